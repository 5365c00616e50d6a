"""Every page a reader's browser or a cache asks for, under random request headers: conditional
requests with dates and tags of any shape, ranges, languages, forwarded addresses, cookies.
No answer is a 500, every answer's headers are single lines, and no GET or HEAD changes a
membership, however its headers read."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from digest.web import create_app
from tests.webtools import Newsroom, newsroom

HEADER_NAMES = st.sampled_from(
    [
        "if-none-match",
        "if-modified-since",
        "if-match",
        "if-range",
        "range",
        "accept",
        "accept-language",
        "accept-encoding",
        "cookie",
        "origin",
        "referer",
        "user-agent",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
        "forwarded",
    ]
)
# What an HTTP header value can carry (tab, printable Latin-1), as httpx sends it, and the shapes
# conditional headers come in, bent.
HEADER_VALUES = st.one_of(
    st.text(
        alphabet=st.characters(
            codec="latin-1", exclude_categories=("Cc",), include_characters="\t"
        ),
        max_size=60,
    ),
    st.sampled_from(
        [
            "*",
            'W/"x", "y"',
            "Mon, 01 Jan 0001 00:00:00 GMT",
            "Fri, 31 Dec 9999 23:59:59 +9999",
            "Sun, 06 Nov 1994 08:49:37 -0000",
            "31 Feb 2026 25:61:61",
            "bytes=0-0, -1, 5-",
            "bytes=99999999999999999999-",
        ]
    ),
)


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Newsroom]:
    with newsroom(tmp_path_factory.mktemp("headers"), editions=1) as built:
        yield built


@pytest.fixture(scope="module")
def client(room: Newsroom) -> TestClient:
    return TestClient(create_app(room.services), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def paths(room: Newsroom, client: TestClient) -> list[str]:
    """A path of each page, with valid tokens."""
    sam = room.subscriber("daily", "Sam").id
    signer = room.services.signer
    archive = client.get("/editions/daily").text
    found = [
        "/",
        "/static/site.css",
        "/editions/daily",
        "/editions/daily/feed.atom",
        *re.findall(r'href="(/editions/daily/[0-9][^"]*)"', archive)[:1],
        f"/unsubscribe/{signer.unsubscribe_token(sam, 'daily')}",
        f"/preferences/{signer.preferences_token(sam, 'daily')}",
        f"/confirm/{signer.confirm_token(sam, 'daily', room.clock.now())}",
        "/subscribe/daily",
        "/images/nothing.jpg",
    ]
    assert len(found) == 10, found  # the edition's page too
    return found


def memberships(room: Newsroom) -> list[tuple[str, str, str]]:
    return [(m.email, m.list_slug, m.status) for m in room.services.store.memberships()]


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    page=st.integers(min_value=0, max_value=50),
    method=st.sampled_from(["GET", "HEAD"]),
    headers=st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=4),
)
def test_no_request_header_makes_a_500_or_changes_a_membership(
    room: Newsroom,
    client: TestClient,
    paths: list[str],
    page: int,
    method: str,
    headers: dict[str, str],
) -> None:
    path = paths[page % len(paths)]
    before = memberships(room)
    sent = {name: value.encode("latin-1") for name, value in headers.items()}
    answer = client.request(method, path, headers=sent)
    assert answer.status_code < 500, (path, headers, answer.status_code)
    for name, value in answer.headers.multi_items():
        assert "\r" not in value and "\n" not in value, (name, value)
    assert memberships(room) == before
