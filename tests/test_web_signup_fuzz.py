"""The sign-up and confirmation endpoints under random input: random bodies, form fields,
tokens and headers never get a 500, and nothing changes (no sign-up queued, no membership
changed) without a valid form token and, for a confirmation, a valid link."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from limits.storage import MemoryStorage
from starlette.testclient import TestClient

from digest.signup import SignUpRequest
from digest.web import create_app
from digest.web.ratelimits import SignUpLimits
from tests.webtools import Newsroom, newsroom

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
FIELD_NAMES = st.sampled_from(["form_token", "email", "name", "website", "x", ""])
HEADER_NAMES = st.sampled_from(
    ["x-forwarded-for", "content-type", "cookie", "origin", "referer", "x-anything"]
)
HEADER_VALUES = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80)


class Recording:
    after_response = False

    def __init__(self) -> None:
        self.submitted: list[SignUpRequest] = []

    def submit(self, request: SignUpRequest) -> None:
        self.submitted.append(request)


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Newsroom]:
    with newsroom(tmp_path_factory.mktemp("fuzz"), editions=1) as built:
        yield built


@pytest.fixture(scope="module")
def queue() -> Recording:
    return Recording()


@pytest.fixture(scope="module")
def client(room: Newsroom, queue: Recording) -> TestClient:
    limits = SignUpLimits("1000000/hour", "1000000/hour", MemoryStorage())
    app = create_app(room.services, signups=queue, limits=limits)
    return TestClient(app, raise_server_exceptions=False)


def state(room: Newsroom) -> list[tuple[str, str, str]]:
    return [(m.email, m.list_slug, m.status) for m in room.services.store.memberships()]


def form_token(client: TestClient, path: str) -> str:
    page = client.get(path).text
    found = re.search(r'name="form_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


bodies = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.dictionaries(FIELD_NAMES, st.text(max_size=80), max_size=5).map(
        lambda fields: urlencode(fields).encode("utf-8", "surrogatepass")
    ),
)
content_types = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=b",
        "multipart/form-data",
        "text/plain",
        "",
    ]
)


@FUZZ
@given(
    path=st.sampled_from(["/subscribe/daily", "/embed/arabic", "/subscribe/nothing"]),
    body=bodies,
    content_type=content_types,
    headers=st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=3),
)
def test_a_sign_up_without_its_form_token_changes_nothing(
    room: Newsroom,
    client: TestClient,
    queue: Recording,
    path: str,
    body: bytes,
    content_type: str,
    headers: dict[str, str],
) -> None:
    before, queued = state(room), len(queue.submitted)
    sent = {**headers, "content-type": content_type} if content_type else headers
    answer = client.post(path, content=body, headers=sent)
    assert answer.status_code in (400, 403, 404, 413), answer.status_code
    assert len(queue.submitted) == queued and state(room) == before


@FUZZ
@given(
    fields=st.dictionaries(
        st.sampled_from(["email", "name", "website"]),
        st.one_of(st.text(max_size=300), st.emails().map(str)),
        max_size=3,
    ),
    headers=st.dictionaries(st.just("x-forwarded-for"), HEADER_VALUES, max_size=1),
)
def test_any_fields_with_a_valid_form_token_never_fail(
    room: Newsroom,
    client: TestClient,
    queue: Recording,
    fields: dict[str, str],
    headers: dict[str, str],
) -> None:
    before, queued = state(room), len(queue.submitted)
    token = form_token(client, "/subscribe/daily")
    answer = client.post("/subscribe/daily", data={"form_token": token, **fields}, headers=headers)
    assert answer.status_code in (200, 400), answer.status_code
    assert state(room) == before  # the store is not touched on the request path
    for request in queue.submitted[queued:]:
        assert answer.status_code == 200 and not fields.get("website", "").strip()
        assert "\n" not in (request.name or "") and "\r" not in (request.name or "")
        assert len(request.name or "") <= 100 and request.email.isascii()


@FUZZ
@given(
    token=st.one_of(
        st.text(
            alphabet=st.characters(
                min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="/?#%"
            ),
            min_size=1,
            max_size=120,
        ),
        st.just("WzEsImRhaWx5Il0.awT-3A.forged-signature-forged-sig"),
    ),
    method=st.sampled_from(["GET", "POST", "HEAD"]),
    body=bodies,
)
def test_a_random_confirmation_token_is_refused_and_changes_nothing(
    room: Newsroom, client: TestClient, token: str, method: str, body: bytes
) -> None:
    before = state(room)
    answer = client.request(
        method,
        f"/confirm/{token}",
        content=body if method == "POST" else None,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code in (400, 404, 405, 410, 413), (token, answer.status_code)
    assert state(room) == before


@FUZZ
@given(body=bodies, content_type=content_types)
def test_a_valid_link_without_the_form_token_confirms_nobody(
    room: Newsroom, client: TestClient, body: bytes, content_type: str
) -> None:
    services = room.services
    pending = services.store.sign_up(
        "fuzzed@example.org", None, "daily", services.address_key("fuzzed@example.org"),
        room.clock.now(),
    )  # fmt: skip
    assert pending.subscriber_id is not None
    token = services.signer.confirm_token(pending.subscriber_id, "daily", room.clock.now())
    before = state(room)
    headers = {"content-type": content_type} if content_type else {}
    answer = client.post(f"/confirm/{token}", content=body, headers=headers)
    assert answer.status_code in (403, 413), answer.status_code
    assert state(room) == before


def test_oversized_bodies_are_refused_before_the_form_is_read(
    room: Newsroom, client: TestClient, queue: Recording
) -> None:
    token = form_token(client, "/subscribe/daily")
    queued = len(queue.submitted)
    big = {"form_token": token, "email": "big@example.org", "name": "n" * 20_000}
    for path in ("/subscribe/daily", "/embed/daily", f"/confirm/{token}"):
        assert client.post(path, data=big).status_code == 413, path
    assert len(queue.submitted) == queued
