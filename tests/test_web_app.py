"""The app as a whole: the front page, /healthz, the headers on every response, the limits on
what a request may hold, error pages, and no 500 whatever the path or body."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.testclient import TestClient

from digest.clock import FixedClock
from digest.mail.transport import MemoryTransport
from digest.services import build_services
from digest.web import create_app
from digest.web.context import STORE_THREADS, StoreThreads
from digest.web.forms import MAX_AGE, FormTokens, origin_of, posted_form
from digest.web.security import BODY_LIMIT, HEADER_LIMIT
from digest.web.server import serving
from tests.servers import free_port
from tests.webtools import FIRST_SLOT, Newsroom, newsroom, web_settings

ROUTES = [
    "/",
    "/healthz",
    "/static/site.css",
    "/editions/daily",
    "/editions/daily/2026-11-24-0300",
    "/editions/daily/feed.atom",
    "/editions/nope",
    "/nope",
    "/unsubscribe/damaged",
]


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Newsroom]:
    with newsroom(tmp_path_factory.mktemp("web"), editions=1) as built:
        yield built


@pytest.fixture(scope="module")
def client(room: Newsroom) -> TestClient:
    return TestClient(create_app(room.services))


def test_the_front_page_lists_each_list_in_its_own_language_and_direction(
    client: TestClient,
) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert '<h2 id="heading-daily" lang="en" dir="ltr">Daily Brief</h2>' in page.text
    assert '<h2 id="heading-arabic" lang="ar" dir="rtl">النشرة اليومية</h2>' in page.text
    assert '<p class="description" lang="ar" dir="rtl">أخبار الخليج كل صباح</p>' in page.text
    # Its links to past editions and the feed in its words and direction too.
    assert (
        '<p class="meta" lang="ar" dir="rtl"><a href="/editions/arabic" id="archive-arabic" '
        'aria-labelledby="archive-arabic heading-arabic">الأعداد السابقة</a>'
    ) in page.text
    assert (
        '<p class="meta" lang="en" dir="ltr"><a href="/editions/daily" id="archive-daily" '
        'aria-labelledby="archive-daily heading-daily">Past editions</a>'
    ) in page.text
    # The frame every page has: a skip link to the main landmark, header and footer.
    assert '<a class="skip-link" href="#content">' in page.text
    assert '<main id="content"' in page.text and "<header" in page.text and "<footer" in page.text


def test_a_list_whose_tag_names_its_script_is_laid_out_in_that_scripts_direction(
    room: Newsroom,
) -> None:
    # "ku-Arab" is Kurdish in Arabic letters (right to left, though "ku" alone is Latin), and
    # "ug-Latn" Uyghur in Latin letters (left to right, though "ug" alone is Arabic script).
    settings = room.services.settings
    tags = {"daily": "ku-Arab", "arabic": "ug-Latn"}
    lists = tuple(
        digest_list.model_copy(update={"language": tags[digest_list.slug]})
        for digest_list in settings.lists
    )
    services = build_services(
        settings.model_copy(update={"lists": lists}), clock=room.clock, transport=MemoryTransport()
    )
    try:
        with serving(create_app(services), "127.0.0.1", 0) as address:
            front = httpx.get(f"{address}/").text
            daily = httpx.get(f"{address}/subscribe/daily").text
            arabic = httpx.get(f"{address}/subscribe/arabic").text
    finally:
        services.close()
    assert '<h2 id="heading-daily" lang="ku-Arab" dir="rtl">Daily Brief</h2>' in front
    assert '<h2 id="heading-arabic" lang="ug-Latn" dir="ltr">' in front
    assert 'lang="ku-Arab" dir="rtl">Daily Brief</span>' in daily
    assert 'lang="ug-Latn" dir="ltr">النشرة اليومية</span>' in arabic


def test_a_lists_name_is_marked_with_its_language_on_every_page_about_the_list(
    room: Newsroom,
) -> None:
    """A list in a language the pages have no words for (Urdu) gets English pages, its name
    set in them: the pages of the sign-up form and preferences marked it with its language
    and direction, those of the confirmation and the unsubscribe did not, so a screen reader
    read it in an English voice and its punctuation took the English sentence's direction."""
    settings = room.services.settings
    lists = tuple(
        digest_list.model_copy(update={"language": "ur", "name": "خبرنامہ (اردو)"})
        if digest_list.slug == "arabic"
        else digest_list
        for digest_list in settings.lists
    )
    services = build_services(
        settings.model_copy(update={"lists": lists}), clock=room.clock, transport=MemoryTransport()
    )
    marked = 'lang="ur" dir="rtl">خبرنامہ (اردو)</span>'
    sam, rana = (room.subscriber("arabic", name).id for name in ("Sam", "Rana"))
    unsubscribe = f"/unsubscribe/{services.signer.unsubscribe_token(sam, 'arabic')}"
    confirm = f"/confirm/{services.signer.confirm_token(rana, 'arabic', room.clock.now())}"
    try:
        with TestClient(create_app(services)) as client:
            pages = {}
            for path in (unsubscribe, confirm, "/subscribe/arabic"):
                page = client.get(path)
                pages[path] = page.text
                token = re.search(r'name="form_token" value="([^"]+)"', page.text)
                assert token is not None, page.text
                done = client.post(path, data={"form_token": token[1], "email": "u@example.org"})
                assert done.status_code == 200, done.text
                pages[f"{path} posted"] = done.text
    finally:
        services.close()
    for path, text in pages.items():
        assert 'lang="en" dir="ltr"' in text, path  # English words: none for Urdu
        assert marked in text, path
    # In the page's sentences too, not only its heading.
    assert pages[unsubscribe].count(marked) == 2 and pages[confirm].count(marked) == 2


def test_a_page_opened_by_a_readers_link_asks_search_engines_not_to_index_it(
    room: Newsroom, client: TestClient
) -> None:
    """A mail forwarded to a list with a public archive hands its links to every crawler: the
    preferences page, which shows the reader's name, timezone and newsletters, was indexed
    like any other page and found by searching for the reader's name. The pages a reader's
    token opens, their answers and errors, ask not to be; the public pages may be."""
    sam = room.subscriber("daily", "Sam").id
    signer = room.services.signer
    personal = [
        f"/preferences/{signer.preferences_token(sam, 'daily')}",
        f"/unsubscribe/{signer.unsubscribe_token(sam, 'daily')}",
        f"/confirm/{signer.confirm_token(sam, 'daily', room.clock.now())}",
        "/preferences/damaged",
        "/confirm/damaged",
    ]
    for path in personal:
        for answer in (client.get(path), client.head(path)):
            assert answer.headers.get("x-robots-tag") == "noindex, nofollow", path
    assert client.post(personal[0]).headers.get("x-robots-tag") == "noindex, nofollow"
    for path in ("/", "/editions/daily", "/subscribe/daily", "/editions/daily/feed.atom"):
        assert "x-robots-tag" not in client.get(path).headers, path


def test_healthz_answers_while_the_store_does(client: TestClient) -> None:
    answer = client.get("/healthz")
    assert answer.status_code == 200 and answer.json()["status"] == "ok"
    assert answer.headers["cache-control"] == "no-store"


def test_healthz_is_503_when_the_store_does_not_answer(tmp_path: Path) -> None:
    settings = web_settings(
        tmp_path,
        "http://127.0.0.1:9/feed.xml",
        database_url=f"postgresql+psycopg://digest@127.0.0.1:{free_port()}/nothing",
    )
    services = build_services(
        settings, clock=FixedClock.__new__(FixedClock), transport=MemoryTransport(), migrate=False
    )
    try:
        client = TestClient(create_app(services))
        answer = client.get("/healthz")
        assert answer.status_code == 503 and answer.json()["status"] == "unavailable"
        # A page that needs the store says to come back, it does not crash.
        page = client.get("/editions/daily")
        assert page.status_code == 503 and page.headers["retry-after"] == "120"
        assert "try again" in page.text
    finally:
        services.close()


@pytest.mark.parametrize("path", ROUTES)
def test_every_response_carries_the_security_headers(client: TestClient, path: str) -> None:
    answer = client.get(path)
    policy = answer.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "script-src" not in policy  # so default-src 'none' forbids every script
    assert answer.headers["x-content-type-options"] == "nosniff"
    # A reader's link's pages name no more than the origin, even to us; the others keep
    # their address from other sites.
    expected = (
        ("strict-origin",)
        if path.startswith("/unsubscribe/")
        else ("same-origin", "strict-origin-when-cross-origin")
    )
    assert answer.headers["referrer-policy"] in expected
    assert answer.headers["x-frame-options"] == "DENY"
    assert "cache-control" in answer.headers
    assert answer.headers["strict-transport-security"].startswith("max-age=")


def test_the_pages_use_no_inline_style_or_script(client: TestClient) -> None:
    for path in ("/", "/editions/daily", "/nope"):
        text = client.get(path).text
        assert "<script" not in text and "<style" not in text and "style=" not in text


def test_a_body_over_the_limit_is_refused_before_it_is_read(client: TestClient) -> None:
    declared = client.post(
        "/unsubscribe/damaged",
        content=b"x" * (BODY_LIMIT + 1),
        headers={"content-length": str(BODY_LIMIT + 1)},
    )
    assert declared.status_code == 413

    def chunks() -> Iterator[bytes]:
        for _ in range(4):
            yield b"List-Unsubscribe=One-Click&" + b"x" * (BODY_LIMIT // 2)

    streamed = client.post("/unsubscribe/damaged", content=chunks())  # chunked: no length
    assert streamed.status_code == 413
    assert client.post("/unsubscribe/damaged", headers={"content-length": "12x"}).status_code == 400


def test_headers_over_the_limit_are_refused(client: TestClient) -> None:
    answer = client.get("/", headers={"x-padding": "a" * HEADER_LIMIT})
    assert answer.status_code == 431
    assert client.get("/", headers={"x-padding": "a" * 2000}).status_code == 200


def test_a_bug_is_a_500_page_with_the_same_headers(room: Newsroom) -> None:
    app = create_app(room.services)

    def broken(request: object) -> None:
        raise RuntimeError("a bug")

    app.add_route("/broken", broken)
    answer = TestClient(app, raise_server_exceptions=False).get("/broken")
    assert answer.status_code == 500 and "Something went wrong on our side" in answer.text
    assert "a bug" not in answer.text and "Traceback" not in answer.text
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["cache-control"] == "no-store"


def test_a_wrong_method_gets_a_page_that_says_so(client: TestClient) -> None:
    answer = client.post("/editions/daily")
    assert answer.status_code == 405 and "GET" in answer.headers["allow"]
    assert "open it as a link" in answer.text


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/unsubscribe/TOKEN", "GET, HEAD, POST"),
        ("/preferences/TOKEN", "GET, HEAD, POST"),
        ("/confirm/TOKEN", "GET, HEAD, POST"),
        ("/subscribe/daily", "GET, HEAD, POST"),
        ("/embed/daily", "GET, HEAD, POST"),
        ("/editions/daily", "GET, HEAD"),
        ("/webhooks/mailgun", "POST"),
    ],
)
def test_a_wrong_method_is_told_every_method_the_address_answers(
    client: TestClient, path: str, allowed: str
) -> None:
    # RFC 9110 15.5.6: a 405 lists the methods the resource supports. An unsubscribe link's
    # said GET and HEAD alone, though its POST is the one-click every mailbox provider sends.
    answer = client.put(path, content=b"List-Unsubscribe=One-Click")
    assert answer.status_code == 405 and answer.headers["allow"] == allowed


def test_a_trailing_slash_redirects_within_base_url_whatever_host_the_request_names(
    tmp_path: Path,
) -> None:
    # Behind a proxy that terminates https, the app sees http and whatever Host is sent: the
    # redirect must not write either into its Location (Starlette's own wrote both).
    feed = "http://127.0.0.1:9/wire.xml"
    settings = web_settings(tmp_path, feed, base_url="https://news.example.org/briefing")
    services = build_services(settings, clock=FixedClock(FIRST_SLOT), transport=MemoryTransport())
    try:
        client = TestClient(create_app(services), follow_redirects=False)
        forged = {"host": "evil.example", "x-forwarded-host": "evil.example"}
        for path, location in (
            ("/editions/daily/", "/briefing/editions/daily"),
            ("/editions/daily//?page=2", "/briefing/editions/daily?page=2"),
            ("/embed/daily/", "/briefing/embed/daily"),
        ):
            answer = client.get(path, headers=forged)
            assert answer.status_code == 307, path
            assert answer.headers["location"] == location, path
        assert client.get("/nope/", headers=forged).status_code == 404
    finally:
        services.close()


def test_the_stylesheet_is_cached_and_revalidated(client: TestClient) -> None:
    sheet = client.get("/static/site.css")
    assert sheet.headers["content-type"].startswith("text/css")
    again = client.get("/static/site.css", headers={"if-none-match": sheet.headers["etag"]})
    assert again.status_code == 304


@pytest.mark.parametrize(
    "if_none_match",
    [
        "W/{etag}",  # weakened by a proxy that compressed the answer on its way (nginx's gzip)
        '"0123", {etag}',  # a cache holding two versions asks with both
        "*",
    ],
)
def test_the_stylesheet_is_revalidated_with_a_weak_tag_a_list_of_tags_or_a_star(
    client: TestClient, if_none_match: str
) -> None:
    etag = client.get("/static/site.css").headers["etag"]
    again = client.get(
        "/static/site.css", headers={"if-none-match": if_none_match.format(etag=etag)}
    )
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    other = client.get("/static/site.css", headers={"if-none-match": '"0123"'})
    assert other.status_code == 200 and other.headers["content-type"].startswith("text/css")


_SEGMENT = st.text(
    alphabet=st.characters(codec="utf-8"),
    min_size=0,
    max_size=40,
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    prefix=st.sampled_from(
        [
            "",
            "editions",
            "unsubscribe",
            "preferences",
            "subscribe",
            "embed",
            "confirm",
            "images",
            "static",
            "healthz",
        ]
    ),
    segments=st.lists(_SEGMENT, max_size=3),
    query=st.text(max_size=40),
    method=st.sampled_from(["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS"]),
    body=st.one_of(st.binary(max_size=300), st.just(b"List-Unsubscribe=One-Click")),
    content_type=st.sampled_from(
        [
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "multipart/form-data",
            "text/plain",
            "application/json",
            "",
        ]
    ),
)
def test_no_path_or_body_makes_a_500_or_unsubscribes_anyone(
    room: Newsroom,
    client: TestClient,
    prefix: str,
    segments: list[str],
    query: str,
    method: str,
    body: bytes,
    content_type: str,
) -> None:
    # Percent-encoded, so that every character reaches the app (httpx refuses raw controls).
    path = "/" + "/".join(quote(part, safe="") for part in [prefix, *segments] if part or prefix)
    headers = {"content-type": content_type} if content_type else {}
    answer = client.request(
        method,
        "http://testserver" + path,
        params={"page": query},
        content=body,
        headers=headers,
        follow_redirects=False,
    )
    assert answer.status_code < 500, (method, path, answer.status_code)
    assert all(room.is_member("daily", name) for name in ("Sam", "Rana"))
    assert room.services.store.topic_choices("daily") == {}


def test_no_more_store_calls_run_at_once_than_the_pool_has_connections() -> None:
    running, most = 0, 0
    lock = threading.Lock()

    def store_call() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with lock:
            running -= 1

    async def many() -> None:
        threads = StoreThreads()
        async with anyio.create_task_group() as group:
            for _ in range(30):
                group.start_soon(threads.run, store_call)

    anyio.run(many)
    assert most == STORE_THREADS == 5


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://News.Example.ORG", ("https", "news.example.org", 443)),
        ("https://news.example.org:443/digest/", ("https", "news.example.org", 443)),
        ("http://news.example.org", ("http", "news.example.org", 80)),
        ("http://[::1]:8080", ("http", "::1", 8080)),
        ("null", None),
        ("http://[oops]", None),
        ("http://host:port", None),
        ("ftp://files.example.org", None),
        # A name written whole, as a reader who typed it so is sent: the same origin.
        ("https://news.example.org.", ("https", "news.example.org", 443)),
        ("https:///no-host", None),
    ],
)
def test_an_origin_is_read_as_browsers_compare_them(
    url: str, origin: tuple[str, str, int] | None
) -> None:
    assert origin_of(url) == origin


def test_an_archived_editions_footer_leads_a_reader_without_a_token_somewhere_useful(
    room: Newsroom, client: TestClient
) -> None:
    # The archive's copy has no reader, so no token: its footer's "Unsubscribe" and
    # "Preferences" both led to the front page, which does neither. They are now named for where
    # they lead: the list's sign-up, and all the newsletters.
    from lxml import html as lxml_html

    [edition] = re.findall(r"/editions/daily/[0-9-]{15}", client.get("/editions/daily").text)[:1]
    page = client.get(edition)
    assert page.status_code == 200
    footer = lxml_html.fromstring(page.text).find_class("footer")[-1]
    links = {a.text_content(): a.get("href") for a in footer.iter("a")}
    assert "Unsubscribe" not in links and "Preferences" not in links, links
    assert str(links["Sign up"]).endswith("/subscribe/daily"), links
    assert str(links["All newsletters"]).endswith("/"), links


def test_an_archived_edition_has_one_main_landmark_holding_the_edition_not_its_footer(
    client: TestClient,
) -> None:
    # A screen reader's "skip to main" and landmark list found nothing on the archive's copy: it
    # is the mail's HTML, a table layout with no <main>.
    from lxml import html as lxml_html

    [edition] = re.findall(r"/editions/daily/[0-9-]{15}", client.get("/editions/daily").text)[:1]
    document = lxml_html.fromstring(client.get(edition).text)
    [main] = document.iter("main")
    assert [heading.tag for heading in main.iter("h1")] == ["h1"]
    assert main.find_class("footer") == [] and document.find_class("footer")
    assert main.find_class("container")


def test_a_form_token_is_taken_for_twelve_hours_from_its_issue_and_never_from_the_future() -> None:
    # A token dated ahead of the clock (another web process's clock far off, or one forged
    # for later under a leaked key) would stay valid for as long as it is ahead.
    start = datetime(2026, 11, 24, 8, tzinfo=UTC)
    clock = FixedClock(start)
    forms = FormTokens("form-secret-0123456789", clock, base_url="https://news.example.org")
    token = forms.issue("/unsubscribe/abc")
    clock.set(start + MAX_AGE)
    assert forms.valid(token, "/unsubscribe/abc")
    clock.set(start + MAX_AGE + timedelta(seconds=1))
    assert not forms.valid(token, "/unsubscribe/abc")
    clock.set(start - timedelta(minutes=5))  # within the clocks' allowed skew
    assert forms.valid(token, "/unsubscribe/abc")
    clock.set(start - timedelta(minutes=5, seconds=1))
    assert not forms.valid(token, "/unsubscribe/abc")


def test_a_form_token_is_made_the_same_by_every_release_and_only_under_its_own_salt() -> None:
    # A page opened before an upgrade (or served by a web process not yet upgraded) is posted
    # to one that is: the token must read the same. One signed with the same key under another
    # salt (a link's, or itsdangerous's default) is no form token of ours.
    from itsdangerous import Signer

    secret, start = "form-secret-0123456789", datetime(2026, 11, 24, 8, tzinfo=UTC)
    forms = FormTokens(secret, FixedClock(start), base_url="https://news.example.org")
    token = "39bdf3a20800ed267406afe6a5d3947e.1795507200.K9FjBSS6TPUBZYEBgBIIDtsUAo4"
    assert forms.issue("/unsubscribe/abc") == token
    assert forms.valid(token, "/unsubscribe/abc")
    value = token.rpartition(".")[0]
    for salt in ("unsubscribe", "itsdangerous.Signer"):
        foreign = Signer(secret, salt=salt).sign(value).decode("ascii")
        assert not forms.valid(foreign, "/unsubscribe/abc")


def _posted(body: bytes, content_type: str) -> Request:
    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": body, "more_body": False}

    headers = [(b"content-type", content_type.encode())]
    # "app" in the scope, as in every request the app serves: Starlette then raises a form's
    # faults as HTTPException.
    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers, "app": None}
    return Request(scope, receive)


def test_a_posted_form_is_read_up_to_twenty_fields_and_4096_bytes_a_field_and_no_further() -> None:
    # Past either limit the form is read as empty: it carries no form token, so it changes
    # nothing, and a client cannot make a page hold an unbounded form in memory.
    urlencoded = "application/x-www-form-urlencoded"

    def fields(count: int) -> bytes:
        return "&".join(f"f{number}=v" for number in range(count)).encode()

    def part(size: int) -> bytes:
        head = b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n'
        return head + b"x" * size + b"\r\n--b--\r\n"

    async def sizes() -> list[int]:
        forms = [
            await posted_form(_posted(fields(20), urlencoded)),
            await posted_form(_posted(fields(21), urlencoded)),
            await posted_form(_posted(part(4096), "multipart/form-data; boundary=b")),
            await posted_form(_posted(part(4097), "multipart/form-data; boundary=b")),
        ]
        return [len(form) for form in forms]

    assert anyio.run(sizes) == [20, 0, 1, 0]


def test_a_posted_form_with_a_file_in_it_is_read_as_empty() -> None:
    # No page asks for a file: one sent is refused whole (its form token with it), never
    # spooled to disk, however small.
    body = (
        b'--b\r\nContent-Disposition: form-data; name="form_token"\r\n\r\nt\r\n'
        b'--b\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\nx\r\n--b--\r\n"
    )

    async def read() -> int:
        return len(await posted_form(_posted(body, "multipart/form-data; boundary=b")))

    assert anyio.run(read) == 0


def test_a_form_refused_for_its_origin_is_logged_with_where_it_was_posted_and_from_what(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # An operator trying the pages at another address than base_url's sees why: the path (its
    # reader's token masked), the origin the browser named, and the base_url it was held to.
    forms = FormTokens(
        "form-secret-0123456789",
        FixedClock(datetime(2026, 11, 24, 8, tzinfo=UTC)),
        base_url="https://news.example.org",
    )
    path = "/unsubscribe/WzQyLCJkYWlseSJd.abcdef"
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": [(b"origin", b"http://127.0.0.1:8000")],
    }
    form = FormData({"form_token": forms.issue(path)})
    with caplog.at_level(logging.WARNING, logger="digest.web.forms"):
        assert not forms.accepts(Request(scope), form)
    assert caplog.messages == [
        "a form posted to /unsubscribe/… from a page of http://127.0.0.1:8000 was refused: not "
        "the origin of service.base_url (https://news.example.org)"
    ]


def test_the_form_parsers_complaints_are_kept_at_debug_not_dropped() -> None:
    # A stranger's malformed body must not write warnings into the log, but an operator
    # debugging a client's posts still finds them at debug.
    seen: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = seen.append  # type: ignore[method-assign]
    parser_log = logging.getLogger("python_multipart.multipart")
    parser_log.addHandler(handler)
    level = parser_log.level
    parser_log.setLevel(logging.DEBUG)
    try:
        parser_log.warning("Expected boundary character %r, got %r", "-", "x")
    finally:
        parser_log.removeHandler(handler)
        parser_log.setLevel(level)
    assert [(record.levelno, record.levelname) for record in seen] == [(logging.DEBUG, "DEBUG")]
