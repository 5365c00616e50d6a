"""``/preferences/{token}``: the link of every mail to the reader's settings for its list.

    GET  ─► the page: the list's topics (ticked: in their edition), their name and timezone,
         and the lists they are on (untick to leave); nothing changes (link scanners open it)
    POST form_token=… ─► saved (digest.preferences), and the page again saying so
         a field that cannot be taken ─► the page again, 400, saying which and why; nothing saved
    a damaged token ─► 400; a reader no longer held or a list no longer configured ─► 410

The token names (subscriber, list) and nothing else; its forms carry a form token like every
form of the site, so a form posted from another site changes nothing.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.config import ListSettings
from digest.lists import list_for_slug
from digest.mail.tokens import InvalidToken
from digest.preferences import (
    Preferences,
    PreferencesGone,
    PreferencesRefused,
    preferences_of,
    save_preferences,
)
from digest.render.text import name_language, script_direction
from digest.store.subscribers import CONFIRMED
from digest.web.context import WebContext, web_context
from digest.web.forms import FIELD, posted_form
from digest.web.words import ENGLISH, words_for
from digest.wording import direction_of

MAX_FIELDS = 200  # topics and lists are ticked boxes: a form of more is no form of ours
SHOWN = "shown"  # one hidden field per list box of the page, naming its list
SHOWN_TOPICS = "shown_topics"  # and one per topic box, naming its topic


async def preferences_page(request: Request) -> Response:
    """The page; never changes anything."""
    web = web_context(request)
    found = await _reader(web, request.path_params["token"])
    if isinstance(found, Response):
        return found
    _, digest_list, held = found
    return _page(web, request, digest_list, held)


async def preferences_post(request: Request) -> Response:
    """The page's form: saved when its form token is this page's."""
    web = web_context(request)
    found = await _reader(web, request.path_params["token"])
    if isinstance(found, Response):
        return found
    subscriber_id, digest_list, held = found
    # A field over the default 4 KB would fail the whole form ("open too long"): a name pasted
    # long is cut to its length instead.
    form = await posted_form(
        request, max_fields=_fields_of_page(web, digest_list), max_part_size=32 * 1024
    )
    if not web.forms.accepts(request, form):
        # Told to press the button again, the reader saves the page as it comes back: for
        # their own form, open too long, that is what they chose; never another site's post.
        own = FIELD in form and web.forms.from_our_origin(request)
        return _page(
            web, request, digest_list, held, expired=True, posted=form if own else None, status=403
        )
    words = words_for(digest_list.language)
    try:
        saved = await web.store_threads.run(
            lambda: save_preferences(
                web.services,
                subscriber_id,
                digest_list,
                topics=_all(form, "topics"),
                name=_text(form, "name"),
                timezone=_text(form, "timezone"),
                stay_on=_all(form, "lists"),
                # The boxes the page had: a list joined in another tab since is not left.
                shown=_all(form, SHOWN) if SHOWN in form else None,
                topics_shown=_all(form, SHOWN_TOPICS) if SHOWN_TOPICS in form else None,
            )
        )
    except PreferencesGone:
        return _gone(web, digest_list)
    except PreferencesRefused as refused:
        problem = words.choose_a_topic if refused.field == "topics" else words.unknown_timezone
        return _page(
            web,
            request,
            digest_list,
            held,
            problem=problem,
            problem_field=refused.field,
            posted=form,
            status=400,
        )
    return _page(web, request, digest_list, saved, saved=True)


async def _reader(web: WebContext, token: str) -> tuple[int, ListSettings, Preferences] | Response:
    """(subscriber id, the list now, what the reader holds) of a token, or the page that says
    why there is none."""
    if len(token) > 300:  # ours are under 100 characters
        return _damaged(web)
    try:
        subscriber_id, slug = web.services.signer.read_preferences_token(token)
    except InvalidToken:
        return _damaged(web)
    digest_list = list_for_slug(web.services.settings, slug)
    if digest_list is None:
        return web.pages.error(
            410,
            "This newsletter has ended",
            "The newsletter this link was made for is no longer sent, so there is nothing to "
            "set. The list of newsletters links to every one there is.",
        )
    try:
        held = await web.store_threads.run(preferences_of, web.services, subscriber_id, digest_list)
    except PreferencesGone:
        return _gone(web, digest_list)
    return subscriber_id, digest_list, held


def _page(
    web: WebContext,
    request: Request,
    digest_list: ListSettings,
    held: Preferences,
    *,
    saved: bool = False,
    expired: bool = False,
    problem: str | None = None,
    problem_field: str | None = None,
    posted: FormData | None = None,
    status: int = 200,
) -> Response:
    """The page of what ``held`` says, or, shown again for a mistake, of what was ``posted``:
    the boxes as the reader left them, else saving the page again would undo their changes.
    ``problem`` says what is wrong with ``problem_field`` ("topics" or "timezone"), the one
    marked so for screen readers."""
    words = words_for(digest_list.language)
    topics, name, timezone = set(held.topics), held.name or "", held.timezone or ""
    unticked: set[str] = set()  # the list boxes the reader unticked
    if posted is not None:
        # A topic the posted page had no box for (added since) keeps what the reader had.
        topic_boxes = set(_all(posted, SHOWN_TOPICS)) if SHOWN_TOPICS in posted else None
        topics = set(_all(posted, "topics")) | (
            topics - topic_boxes if topic_boxes is not None else set()
        )
        name, timezone = _text(posted, "name"), _text(posted, "timezone")[:64]
        # Only boxes the posted page had: a list joined since was not unticked.
        boxes = set(_all(posted, SHOWN)) if SHOWN in posted else {m.slug for m in held.lists}
        unticked = boxes - set(_all(posted, "lists"))
    names = {topic.slug: topic.name for topic in web.services.settings.topics}
    context: dict[str, Any] = {
        "words": words,
        "list_name": digest_list.name,
        "list_language": digest_list.language,
        "list_direction": direction_of(digest_list.language),
        "action": f"{web.pages.root}{request.url.path}",
        "form_token": web.forms.issue(request.url.path),
        "topics": [
            _topic(slug, names.get(slug, slug), slug in topics, words.language)
            for slug in digest_list.topics
        ],
        "lists": [
            {
                "slug": membership.slug,
                "name": membership.name,
                "language": membership.language,
                "direction": direction_of(membership.language),
                "on": membership.status == CONFIRMED,
                "ticked": membership.slug not in unticked,
                "signup": f"{web.pages.root}/subscribe/{membership.slug}",
            }
            for membership in held.lists
        ],
        "name": name,
        "timezone": timezone,
        "zone_hint": words.timezone_hint.format(zone=digest_list.timezone),
        "shown": SHOWN,
        "shown_topics": SHOWN_TOPICS,
        "saved": saved,
        "expired": expired,
        "problem": problem,
        "problem_field": problem_field,
    }
    return web.pages.render("web/preferences.html.j2", context, status=status)


def _topic(slug: str, name: str, chosen: bool, page_language: str) -> dict[str, Any]:
    """A topic's box: the config gives its name and no language, so a name in another script
    than the page's (an Arabic topic on an English page) carries the language its letters name
    and their direction, or a screen reader reads it in the page's voice."""
    language = name_language(name, page_language)
    return {
        "slug": slug,
        "name": name,
        "chosen": chosen,
        "language": language,
        "direction": script_direction(name) if language else None,
    }


def _fields_of_page(web: WebContext, digest_list: ListSettings) -> int:
    """The most fields the page's form can post, at least ``MAX_FIELDS``: two per topic box
    (the box and the hidden field naming it), two per list box, and the form token, name and
    timezone. A list of a hundred topics has a form of more than 200, and a form past the
    limit is read as empty: its reader could save nothing."""
    boxes = len(digest_list.topics) + len(web.services.settings.lists)
    return max(MAX_FIELDS, 2 * boxes + 3)


def _gone(web: WebContext, digest_list: ListSettings) -> Response:
    words = words_for(digest_list.language)
    return web.pages.error(
        410, words.preferences_gone_title, words.preferences_gone_body, words=words
    )


def _damaged(web: WebContext) -> Response:
    return web.pages.error(
        400,
        "This link is damaged",
        "The preferences link could not be read: part of it may have been lost when it was "
        "copied. Open it again from the mail itself.",
        words=ENGLISH,
    )


def _text(form: FormData, field: str) -> str:
    value = form.get(field)
    return value if isinstance(value, str) else ""


def _all(form: FormData, field: str) -> list[str]:
    return [value for value in form.getlist(field) if isinstance(value, str)]


routes = [
    Route("/preferences/{token}", preferences_page, methods=["GET"]),
    Route("/preferences/{token}", preferences_post, methods=["POST"]),
]
