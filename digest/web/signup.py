"""Sign-up with double opt-in: the form on ``/`` and ``/subscribe/LIST``, its embeddable twin
``/embed/LIST``, and the confirmation link ``/confirm/TOKEN``.

    POST /subscribe/LIST (and /embed/LIST) form_token, email, name, website (the honeypot)
        a form token not issued for this form ─► the form again, 403
        over web.signup_rate_per_client ─► 429 with Retry-After
        the honeypot filled ─► the answer below, and nothing else
        no address we can send to ─► the form again, 400, saying so
        over web.signup_rate_per_address or its _daily ─► 429 with Retry-After
        else ─► the answer below, and then the sign-up queued (digest.web.signups)
      the answer: one "check your inbox" page, the same bytes and headers whatever the address
      (new, pending, confirmed, unsubscribed, suppressed): the store is not even asked before
      the answer is sent, so neither its words nor its timing tell who is subscribed
    GET  /confirm/TOKEN ─► a page with one button; nothing changes (link scanners open links)
    POST /confirm/TOKEN form_token ─► confirmed (digest.signup.confirm_sign_up), idempotent
      a damaged token ─► 400; an expired one ─► 410; a list no longer configured ─► 410
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import anyio.to_thread
from starlette.background import BackgroundTask
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from digest.addresses import mailbox_of
from digest.config import ListSettings
from digest.lists import list_for_slug
from digest.mail.headers import cut
from digest.mail.reader_addresses import AddressNotAscii, check_address, clean_name
from digest.mail.tokens import ExpiredToken, InvalidToken
from digest.plurals import counted
from digest.signup import SignUpRequest, confirm_max_age, confirm_sign_up
from digest.store.subscribers import CONFIRMED
from digest.web.clients import client_address, counted_as
from digest.web.context import WebContext, web_context
from digest.web.forms import FIELD, posted_form
from digest.web.pages import about_list
from digest.web.security import BODY_LIMIT, embed_csp
from digest.web.words import PageWords, words_for
from digest.wording import ENGLISH as ENGLISH_WORDING
from digest.wording import direction_of, primary_subtag, wording_for

HONEYPOT = "website"  # a field people never see, which form-filling bots fill in
EMBED_PREFIX = "/embed/"  # the embeddable form's pages, which the newsroom's site frames
NAME_CHARS = 100
EMAIL_CHARS = 254


def form_context(web: WebContext, digest_list: ListSettings, action: str) -> dict[str, Any]:
    """What the sign-up form of ``digest_list`` needs (templates/web/signup_form.html.j2):
    its words, language and direction, and a form token for ``action`` (a path)."""
    words = words_for(digest_list.language)
    return {
        "slug": digest_list.slug,
        "action": f"{web.pages.root}{action}",
        "form_token": web.forms.issue(action),
        "words": words,
        "language": words.language,
        "direction": words.direction,
        "list_language": digest_list.language,
        "list_direction": direction_of(digest_list.language),
        "email": "",
        "name": "",
        "problem": None,
        "expired": False,
        "honeypot": HONEYPOT,
    }


def _current_list(web: WebContext, slug: str) -> ListSettings:
    """The list a form is for, by its slug now or before (a form loaded before a rename still
    signs up to the list); 404 for no list."""
    digest_list = list_for_slug(web.services.settings, slug)
    if digest_list is None:
        raise HTTPException(404)
    return digest_list


async def subscribe_page(request: Request) -> Response:
    """One list's sign-up form on a page of its own."""
    return _form_page(request, embed=False)


async def embed_page(request: Request) -> Response:
    """The same form, with nothing around it, for a frame on the newsroom's own site."""
    return _form_page(request, embed=True)


def _form_page(
    request: Request,
    *,
    embed: bool,
    status: int = 200,
    values: Mapping[str, Any] | None = None,
) -> Response:
    web = web_context(request)
    slug = request.path_params["list"]
    digest_list = _current_list(web, slug)
    if digest_list.slug != slug and request.method in ("GET", "HEAD"):
        # A renamed list: the newsroom's page that frames /embed/OLD keeps working.
        kind = "embed" if embed else "subscribe"
        return RedirectResponse(f"{web.pages.root}/{kind}/{digest_list.slug}", status_code=301)
    context = form_context(web, digest_list, request.url.path)
    context.update(values or {})
    context["form"] = dict(context)
    context["list_name"] = digest_list.name
    context["description"] = digest_list.description
    template = "web/embed.html.j2" if embed else "web/subscribe.html.j2"
    return web.pages.render(template, context, status=status, headers=_headers(web, embed))


def _headers(
    web: WebContext, embed: bool, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    headers = {"cache-control": "no-store", **(extra or {})}
    if embed:
        headers["content-security-policy"] = embed_csp(web.services.settings.web.embed_origins)
    return headers


async def subscribe_post(request: Request) -> Response:
    return await _sign_up(request, embed=False)


async def embed_post(request: Request) -> Response:
    return await _sign_up(request, embed=True)


async def _sign_up(request: Request, *, embed: bool) -> Response:
    web = web_context(request)
    digest_list = _current_list(web, request.path_params["list"])
    words = words_for(digest_list.language)
    # A field over the form reader's default of 4 KB dropped the whole form, and the page said
    # it was open too long, at every press: a long address is refused as one, a long name cut.
    form = await posted_form(request, max_part_size=BODY_LIMIT)
    if not web.forms.accepts(request, form):
        values: dict[str, Any] = {"expired": True}
        if FIELD in form and web.forms.from_our_origin(request):
            # The reader's own form, open too long: told to press the button again, they find
            # it as they filled it in. Never another site's post, whose address is not theirs.
            values["email"] = _text(form, "email")[:EMAIL_CHARS]
            values["name"] = _text(form, "name")[:NAME_CHARS]
        return _form_page(request, embed=embed, status=403, values=values)
    # In threads: in the distributed mode each count is a round trip to Redis.
    wait = await anyio.to_thread.run_sync(web.limits.client, _client(web, request))
    if wait is not None:
        return _too_many(web, words, wait, embed)
    if _text(form, HONEYPOT):
        return _check_inbox(web, digest_list, embed)
    typed = _text(form, "email")
    name = clean_name(_text(form, "name"))
    name = cut(name, NAME_CHARS) if name else None
    try:
        if len(typed) > EMAIL_CHARS:
            raise ValueError("too long")
        email = check_address(typed)
    except ValueError as error:
        problem = (
            words.address_not_ascii if isinstance(error, AddressNotAscii) else words.invalid_email
        )
        values = {"problem": problem, "email": typed[:EMAIL_CHARS], "name": name or ""}
        return _form_page(request, embed=embed, status=400, values=values)
    # Counted per mailbox, not per spelling: "ann+1@", "a.nn@gmail.com" all reach Ann.
    mailbox = web.services.address_key(mailbox_of(email))
    wait = await anyio.to_thread.run_sync(web.limits.address, mailbox)
    if wait is not None:
        return _too_many(web, words, wait, embed)
    wanted = SignUpRequest(digest_list.slug, email, name)
    answer = _check_inbox(web, digest_list, embed)
    if web.signups.after_response:
        # Handed over once the answer is sent: work on this process's own thread must not
        # run beside the answer's last bytes, or how long they take would tell a new address
        # (a mail to render and send) from a confirmed one.
        answer.background = BackgroundTask(web.signups.submit, wanted)
    else:
        await anyio.to_thread.run_sync(web.signups.submit, wanted)
    return answer


def _days(digest_list: ListSettings | None, days: float) -> str:
    """How long a confirmation link works ("1 day", "يومين"), in the list's words and digits
    (Persian in the Persian calendar), as its mails write it."""
    if digest_list is None:
        return ENGLISH_WORDING.counted(ENGLISH_WORDING.days, days)
    wording = wording_for(digest_list.language, digest_list.calendar)
    return wording.counted(wording.days, days)


def _check_inbox(web: WebContext, digest_list: ListSettings, embed: bool) -> Response:
    context = {
        **about_list(digest_list),
        "days": _days(digest_list, web.services.settings.web.confirm_days),
        "embed": embed,
    }
    return web.pages.render("web/check_inbox.html.j2", context, headers=_headers(web, embed))


def _too_many(web: WebContext, words: PageWords, wait: int, embed: bool) -> Response:
    minutes = max(1, -(-wait // 60))
    # A day's window may ask for many hours: "in 1,380 minutes" is read as hours.
    if minutes > 90:
        hours = counted(words.hours, primary_subtag(words.language), -(-minutes // 60))
        said = words.too_many_hours_body.format(hours=hours)
    else:
        said = words.too_many_body.format(
            minutes=counted(words.minutes, primary_subtag(words.language), minutes)
        )
    return web.pages.error(
        429,
        words.too_many_title,
        said,
        words=words,
        headers=_headers(web, embed, {"retry-after": str(wait)}),
    )


def _client(web: WebContext, request: Request) -> str:
    peer = request.client.host if request.client else None
    forwarded = request.headers.getlist("x-forwarded-for")
    return counted_as(client_address(peer, forwarded, web.trusted_proxies))


def _text(form: FormData, field: str) -> str:
    value = form.get(field)
    return value.strip() if isinstance(value, str) else ""


# The confirmation link -----------------------------------------------------------------------


async def confirm_page(request: Request) -> Response:
    """The page with the button; never changes anything."""
    web = web_context(request)
    read = _read_token(web, request.path_params["token"])
    if isinstance(read, Response):
        return read
    return _button_page(web, request, read[1], expired=False)


async def confirm_post(request: Request) -> Response:
    """The page's button: the sign-up confirmed."""
    web = web_context(request)
    read = _read_token(web, request.path_params["token"])
    if isinstance(read, Response):
        return read
    subscriber_id, digest_list, issued = read
    form = await posted_form(request)
    if not web.forms.accepts(request, form):
        return _button_page(web, request, digest_list, expired=True)
    change = await web.store_threads.run(
        confirm_sign_up, web.services, subscriber_id, digest_list.slug, issued
    )
    words = words_for(digest_list.language)
    if change is None or change.after != CONFIRMED:
        return web.pages.error(
            409,
            words.not_confirmed_title,
            words.not_confirmed_body,
            words=words,
        )
    context = {
        **about_list(digest_list),
        "archive": f"{web.pages.root}/editions/{digest_list.slug}",
    }
    return web.pages.render("web/confirmed.html.j2", context)


def _read_token(web: WebContext, token: str) -> tuple[int, ListSettings, datetime] | Response:
    """The subscriber and list of a confirmation token, and when it was issued; or the page
    that says what is wrong."""
    services = web.services
    try:
        if len(token) > 300:  # ours are under 100 characters
            raise InvalidToken("too long")
        subscriber_id, slug, issued = services.signer.read_confirm_token_issued(
            token, services.clock.now(), confirm_max_age(services)
        )
    except ExpiredToken as expired:
        # Said in the list's language: the slug is the signed one, read before the age.
        gone_to = list_for_slug(services.settings, expired.list_slug or "")
        words = words_for(gone_to.language if gone_to is not None else None)
        days = _days(gone_to, services.settings.web.confirm_days)
        return web.pages.error(
            410, words.link_expired_title, words.link_expired_body.format(days=days), words=words
        )
    except InvalidToken:
        return web.pages.error(
            400,
            "This link is damaged",
            "The confirmation link could not be read: part of it may have been lost when it "
            "was copied. Open it again from the mail itself, or sign up again.",
        )
    digest_list = list_for_slug(services.settings, slug)
    if digest_list is None:
        return web.pages.error(
            410,
            "This newsletter is no longer published",
            "The list this link was for is not sent any more. The front page shows the "
            "newsletters there are.",
        )
    return subscriber_id, digest_list, issued


def _button_page(
    web: WebContext, request: Request, digest_list: ListSettings, *, expired: bool
) -> Response:
    context = {
        **about_list(digest_list),
        "action": f"{web.pages.root}{request.url.path}",
        "form_token": web.forms.issue(request.url.path),
        "expired": expired,
    }
    return web.pages.render("web/confirm.html.j2", context, status=403 if expired else 200)


routes = [
    Route("/subscribe/{list}", subscribe_page, methods=["GET"]),
    Route("/subscribe/{list}", subscribe_post, methods=["POST"]),
    Route(EMBED_PREFIX + "{list}", embed_page, methods=["GET"]),
    Route(EMBED_PREFIX + "{list}", embed_post, methods=["POST"]),
    Route("/confirm/{token}", confirm_page, methods=["GET"]),
    Route("/confirm/{token}", confirm_post, methods=["POST"]),
]
