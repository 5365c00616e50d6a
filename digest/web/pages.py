"""The web pages' templates (``templates/web/``), the stylesheet, and the pages for errors.

Templates come from the operator's ``service.templates`` folder first, then the bundled one, as
the mail's do, so a newsroom rebrands both in one place. Every page extends ``web/base.html.j2``
(landmarks, a skip link, the list's language and direction).
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import jinja2
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from digest.config import ListSettings, Settings
from digest.render import bundled_template_folder, template_folder
from digest.web.words import ENGLISH, PageWords, words_for
from digest.wording import direction_of

STYLESHEET = "web/site.css"
NO_STORE = {"cache-control": "no-store"}


class Pages:
    """Renders the web templates with what every page needs (the site's name, its root path)."""

    def __init__(self, settings: Settings) -> None:
        folders = [template_folder(settings)]
        if bundled_template_folder() not in folders:
            folders.append(bundled_template_folder())
        loader = jinja2.FileSystemLoader(folders)
        self.environment = jinja2.Environment(
            loader=loader,
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html.j2", "xml.j2"), default_for_string=True, default=True
            ),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.environment.filters["naming_list"] = naming_list
        self.environment.filters["left_to_right_runs"] = left_to_right_runs
        service = settings.service
        # Links are written from the root path of base_url, so that they hold on any host name
        # the pages are reached by and under a path prefix (https://example.org/news).
        self.root = urlsplit(service.base_url).path.rstrip("/")
        self.common = {
            "site_name": service.sender_name,
            "postal_address": service.postal_address,
            "root": self.root,
        }
        source, _, _ = loader.get_source(self.environment, STYLESHEET)
        self.stylesheet = source.encode("utf-8")
        self.stylesheet_etag = '"' + hashlib.sha256(self.stylesheet).hexdigest()[:20] + '"'
        self.common["stylesheet"] = f"{self.root}/static/site.css?v={self.stylesheet_etag[1:9]}"

    def html(self, template: str, context: Mapping[str, Any]) -> str:
        return self.environment.get_template(template).render({**self.common, **context})

    def render(
        self,
        template: str,
        context: Mapping[str, Any],
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        return HTMLResponse(
            self.html(template, context), status_code=status, headers=dict(headers or NO_STORE)
        )

    def error(
        self,
        status: int,
        title: str,
        message: str,
        *,
        words: PageWords = ENGLISH,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        """A page in the site's look that says what went wrong and what the reader can do."""
        context = {"words": words, "title": title, "message": message, "status": status}
        extra = {name.lower(): value for name, value in (headers or {}).items()}
        return self.render("web/error.html.j2", context, status=status, headers=NO_STORE | extra)

    def stylesheet_response(self, request: Request) -> Response:
        headers = {"ETag": self.stylesheet_etag, "Cache-Control": "public, max-age=86400"}
        if etag_matches(self.stylesheet_etag, request.headers.get("if-none-match", "")):
            return Response(status_code=304, headers=headers)
        return Response(self.stylesheet, media_type="text/css; charset=utf-8", headers=headers)


def about_list(digest_list: ListSettings | None, slug: str = "") -> dict[str, Any]:
    """What a page about one list needs to name it: the words in the list's language, and its
    name, language and direction, which mark the name where the page sets it (the list's
    language may be one the pages have no words for). A list no longer configured is named by
    its ``slug``, in English."""
    if digest_list is None:
        return {
            "words": ENGLISH,
            "list_name": slug,
            "list_language": ENGLISH.language,
            "list_direction": ENGLISH.direction,
        }
    return {
        "words": words_for(digest_list.language),
        "list_name": digest_list.name,
        "list_language": digest_list.language,
        "list_direction": direction_of(digest_list.language),
    }


def naming_list(sentence: str, name: str, language: str, direction: str, **values: str) -> Markup:
    """``sentence`` of the page's words with the list's ``name`` for its ``{list}``, marked with
    the list's language and direction (the template filter ``naming_list``): a list in a
    language the pages have no words for sits in an English sentence, and unmarked, a screen
    reader read it in an English voice and its punctuation took the sentence's direction.
    ``values`` fill the sentence's other fields."""
    marked = Markup('<span lang="{}" dir="{}">{}</span>').format(language, direction, name)
    return escape(sentence).format(list=marked, **values)


# A run the pages' words hold between LEFT-TO-RIGHT ISOLATE and POP DIRECTIONAL ISOLATE (digest.
# web.words): an example address, the symbols an address may hold, a timezone's name.
_LEFT_TO_RIGHT_RUN = re.compile("\u2066([^\u2066-\u2069]*)\u2069")


def left_to_right_runs(sentence: str) -> Markup:
    """``sentence`` of the pages' words, escaped, each left-to-right run it isolates as a
    ``<bdi dir="ltr">`` (the template filter ``left_to_right_runs``): the markup HTML means
    for it, which a browser draws as the characters and a reader copies without them."""
    parts = _LEFT_TO_RIGHT_RUN.split(sentence)  # the runs at odd places
    return Markup("").join(
        Markup('<bdi dir="ltr">{}</bdi>').format(part) if odd else escape(part)
        for odd, part in zip(itertools.cycle((False, True)), parts, strict=False)
    )


def etag_matches(etag: str, if_none_match: str) -> bool:
    """Whether an If-None-Match header matches ``etag``: one of its entity tags does (weak
    ones compared as strong: a proxy that compresses an answer on its way, nginx's gzip among
    them, weakens its tag, and a browser sends back what it was given), or it is "*", which any
    current representation matches (RFC 9110 §13.1.2), so that a cache asking with it gets 304
    rather than the bytes again."""
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",") if tag.strip()}
    return "*" in tags or etag in tags
