"""``/unsubscribe/{token}``: the link of every mail and its List-Unsubscribe header (RFC 8058).

    GET  ─► a page with one button; nothing changes (link scanners open every link of a mail)
    POST List-Unsubscribe=One-Click ─► unsubscribed at once, 200 and a tiny body: the mailbox
         provider's one-click, with no cookie and no form token (the signed token is the key)
    POST form_token=… ─► the page's button: unsubscribed, and a page that says so
    anything else ─► the button's page again; a damaged token ─► 400, a page that says so

A token whose reader no longer exists gets the same answers as any other, so nothing here tells
who is subscribed. Every unsubscribe goes through ``digest.unsubscribes.unsubscribe``.
"""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from digest.lists import list_for_slug
from digest.mail.tokens import InvalidToken
from digest.unsubscribes import unsubscribe
from digest.web.context import WebContext, web_context
from digest.web.forms import posted_form
from digest.web.pages import about_list
from digest.web.words import ENGLISH

ONE_CLICK = b"List-Unsubscribe=One-Click"
ONE_CLICK_REASON = "one-click"
PAGE_REASON = "unsubscribe-page"


async def unsubscribe_page(request: Request) -> Response:
    """The page with the button; never changes anything."""
    web = web_context(request)
    read = _read_token(web, request.path_params["token"])
    if read is None:
        return _damaged(web)
    return _button_page(web, request, read[1], expired=False)


async def unsubscribe_post(request: Request) -> Response:
    """The one-click POST or the page's button."""
    web = web_context(request)
    read = _read_token(web, request.path_params["token"])
    body = await request.body()
    one_click = body.strip() == ONE_CLICK
    form = FormData() if one_click else await posted_form(request)
    if not one_click and form.get("List-Unsubscribe") == "One-Click":
        one_click = True  # sent as multipart/form-data, which RFC 8058 allows too
    if read is None:
        if one_click:
            return PlainTextResponse("This unsubscribe link is damaged.\n", status_code=400)
        return _damaged(web)
    subscriber_id, list_slug = read
    if one_click:
        await web.store_threads.run(
            unsubscribe, web.services, subscriber_id, list_slug, ONE_CLICK_REASON
        )
        return PlainTextResponse("Unsubscribed.\n")
    if not web.forms.accepts(request, form):
        return _button_page(web, request, list_slug, expired=True)
    await web.store_threads.run(unsubscribe, web.services, subscriber_id, list_slug, PAGE_REASON)
    digest_list = list_for_slug(web.services.settings, list_slug)
    archive = f"{web.pages.root}/editions/{digest_list.slug}" if digest_list else None
    return web.pages.render(
        "web/unsubscribed.html.j2", {**about_list(digest_list, list_slug), "archive": archive}
    )


def _read_token(web: WebContext, token: str) -> tuple[int, str] | None:
    if len(token) > 300:  # ours are under 100 characters
        return None
    try:
        return web.services.signer.read_unsubscribe_token(token)
    except InvalidToken:
        return None


def _button_page(web: WebContext, request: Request, list_slug: str, *, expired: bool) -> Response:
    digest_list = list_for_slug(web.services.settings, list_slug)
    context = {
        **about_list(digest_list, list_slug),
        "action": f"{web.pages.root}{request.url.path}",
        "form_token": web.forms.issue(request.url.path),
        "expired": expired,
    }
    return web.pages.render("web/unsubscribe.html.j2", context, status=403 if expired else 200)


def _damaged(web: WebContext) -> Response:
    return web.pages.error(
        400,
        "This link is damaged",
        "The unsubscribe link could not be read: part of it may have been lost when it was "
        "copied. Open it again from the mail itself, or reply to the mail and ask to be "
        "unsubscribed.",
        words=ENGLISH,
    )


routes = [
    Route("/unsubscribe/{token}", unsubscribe_page, methods=["GET"]),
    Route("/unsubscribe/{token}", unsubscribe_post, methods=["POST"]),
]
