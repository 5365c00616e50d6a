"""/unsubscribe/{token}: a GET changes nothing, the RFC 8058 one-click POST and the page's button
unsubscribe, a damaged or foreign token is refused, and no answer tells who is subscribed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from digest import pipeline
from digest.mail.transport import MemoryTransport
from digest.services import build_services
from digest.web import create_app
from digest.web.server import serving
from tests.webtools import Newsroom, newsroom

ONE_CLICK = {"content": b"List-Unsubscribe=One-Click"}
FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture
def room(tmp_path: Path) -> Iterator[Newsroom]:
    with newsroom(tmp_path, editions=1) as built:
        yield built


@pytest.fixture
def client(room: Newsroom) -> TestClient:
    return TestClient(create_app(room.services))


def form_token(page: str) -> str:
    match = re.search(r'name="form_token" value="([^"]+)"', page)
    assert match is not None, page
    return match.group(1)


def suppression_lines(room: Newsroom) -> list[str]:
    path = room.services.settings.service.suppression_path
    return path.read_text().splitlines()[1:] if path.exists() else []


def test_opening_the_link_shows_one_button_and_changes_nothing(
    room: Newsroom, client: TestClient
) -> None:
    token = room.unsubscribe_token("daily", "Sam")
    for _ in range(3):
        page = client.get(f"/unsubscribe/{token}")
        assert page.status_code == 200
        assert client.head(f"/unsubscribe/{token}").status_code == 200
    assert "Unsubscribe from" in page.text and "Daily Brief" in page.text
    assert page.text.count("<button") == 1 and 'method="post"' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "strict-origin"  # no Referer holds the token
    assert room.is_member("daily", "Sam")
    assert suppression_lines(room) == []


def test_a_one_click_post_as_gmail_sends_it_unsubscribes_at_once_and_again_changes_nothing(
    room: Newsroom, client: TestClient
) -> None:
    token = room.unsubscribe_token("daily", "Sam")
    # No cookie, no form token, no page first: just the body, form-encoded.
    answer = client.post(f"/unsubscribe/{token}", headers=FORM, **ONE_CLICK)
    assert answer.status_code == 200
    assert len(answer.content) < 50 and "set-cookie" not in answer.headers
    assert not room.is_member("daily", "Sam")
    assert room.is_member("daily", "Rana") and room.is_member("arabic", "Sam")
    assert [line.split(",")[:2] for line in suppression_lines(room)] == [
        ["sam@example.org", "daily"]
    ]
    for _ in range(3):  # a retried POST, a second press from another mail
        again = client.post(f"/unsubscribe/{token}", headers=FORM, **ONE_CLICK)
        assert again.status_code == 200 and again.text == answer.text
    assert not room.is_member("daily", "Sam")
    # One line in the suppression file however often it came.
    assert len(suppression_lines(room)) == 1


def test_a_one_click_post_in_multipart_form_data_counts_too(
    room: Newsroom, client: TestClient
) -> None:
    token = room.unsubscribe_token("daily", "Rana")
    answer = client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}, files={})
    assert answer.status_code == 200
    answer = client.post(
        f"/unsubscribe/{token}",
        files={"List-Unsubscribe": (None, "One-Click")},  # multipart, as RFC 8058 allows
    )
    assert answer.status_code == 200
    assert not room.is_member("daily", "Rana")


def test_the_pages_button_unsubscribes_with_its_form_token(
    room: Newsroom, client: TestClient
) -> None:
    token = room.unsubscribe_token("daily", "Sam")
    page = client.get(f"/unsubscribe/{token}")
    done = client.post(f"/unsubscribe/{token}", data={"form_token": form_token(page.text)})
    assert done.status_code == 200
    assert "You are unsubscribed" in done.text and "Daily Brief" in done.text
    assert '<a href="/editions/daily">Past editions</a>' in done.text
    assert not room.is_member("daily", "Sam")
    reason = suppression_lines(room)[0].split(",")[2]
    assert reason == "unsubscribe-page"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"form_token": ""},
        {"form_token": "0123456789abcdef0123456789abcdef.1795575900.forged"},
        {"List-Unsubscribe": "one-click"},
        {"List-Unsubscribe": "One-Click "},
    ],
)
def test_a_post_without_a_valid_form_token_shows_the_button_again_and_changes_nothing(
    room: Newsroom, client: TestClient, body: dict[str, str]
) -> None:
    token = room.unsubscribe_token("daily", "Sam")
    answer = client.post(f"/unsubscribe/{token}", data=body)
    assert answer.status_code == 403
    assert "Press the button again" in answer.text and form_token(answer.text)
    assert room.is_member("daily", "Sam")


def test_a_form_token_opens_only_its_own_form_and_only_for_a_while(
    room: Newsroom, client: TestClient
) -> None:
    sams = room.unsubscribe_token("daily", "Sam")
    ranas = room.unsubscribe_token("daily", "Rana")
    issued_for_sam = form_token(client.get(f"/unsubscribe/{sams}").text)
    answer = client.post(f"/unsubscribe/{ranas}", data={"form_token": issued_for_sam})
    assert answer.status_code == 403 and room.is_member("daily", "Rana")

    room.clock.advance(timedelta(hours=13))
    answer = client.post(f"/unsubscribe/{sams}", data={"form_token": issued_for_sam})
    assert answer.status_code == 403 and room.is_member("daily", "Sam")
    fresh = form_token(answer.text)
    assert client.post(f"/unsubscribe/{sams}", data={"form_token": fresh}).status_code == 200
    assert not room.is_member("daily", "Sam")


def tampered(token: str) -> list[str]:
    payload, _, signature = token.rpartition(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return [
        f"{payload}.{flipped}",
        token[:-3],
        token + "x",
        "WzIsImRhaWx5Il0." + signature,  # another subscriber's payload under this signature
        "preview",
        "x" * 400,
    ]


def test_a_damaged_link_is_refused_with_a_page_that_says_so_and_changes_nothing(
    room: Newsroom, client: TestClient
) -> None:
    token = room.unsubscribe_token("daily", "Sam")
    for bad in tampered(token):
        page = client.get(f"/unsubscribe/{bad}")
        assert page.status_code == 400 and "This link is damaged" in page.text
        assert client.post(f"/unsubscribe/{bad}", headers=FORM, **ONE_CLICK).status_code == 400
        form = form_token(client.get(f"/unsubscribe/{token}").text)
        assert client.post(f"/unsubscribe/{bad}", data={"form_token": form}).status_code == 400
    assert all(room.is_member(slug, name) for slug in ("daily", "arabic") for name in ("Sam",))
    assert suppression_lines(room) == []


def test_a_preferences_token_does_not_unsubscribe(room: Newsroom, client: TestClient) -> None:
    sam = room.subscriber("daily", "Sam")
    other_action = room.services.signer.preferences_token(sam.id, "daily")
    assert client.get(f"/unsubscribe/{other_action}").status_code == 400
    answer = client.post(f"/unsubscribe/{other_action}", headers=FORM, **ONE_CLICK)
    assert answer.status_code == 400
    assert room.is_member("daily", "Sam")


def test_a_token_for_no_such_reader_gets_the_same_calm_answers(
    room: Newsroom, client: TestClient
) -> None:
    ghost = room.services.signer.unsubscribe_token(99_999, "daily")
    real = room.unsubscribe_token("daily", "Rana")
    ghost_page, real_page = client.get(f"/unsubscribe/{ghost}"), client.get(f"/unsubscribe/{real}")
    assert ghost_page.status_code == real_page.status_code == 200
    strip = re.compile(r'(action|value)="[^"]+"')
    assert strip.sub("", ghost_page.text) == strip.sub("", real_page.text)

    one_click = [client.post(f"/unsubscribe/{t}", headers=FORM, **ONE_CLICK) for t in (ghost, real)]
    assert [a.status_code for a in one_click] == [200, 200]
    assert one_click[0].text == one_click[1].text

    pressed = [
        client.post(f"/unsubscribe/{t}", data={"form_token": form_token(p.text)})
        for t, p in ((ghost, ghost_page), (real, real_page))
    ]
    assert [a.status_code for a in pressed] == [200, 200]
    assert pressed[0].text == pressed[1].text


def test_a_link_naming_the_lists_former_slug_still_unsubscribes(
    room: Newsroom, client: TestClient
) -> None:
    sam = room.subscriber("daily", "Sam")
    old_link = room.services.signer.unsubscribe_token(sam.id, "morning")  # previous_slugs
    page = client.get(f"/unsubscribe/{old_link}")
    assert page.status_code == 200 and "Daily Brief" in page.text
    assert client.post(f"/unsubscribe/{old_link}", headers=FORM, **ONE_CLICK).status_code == 200
    assert not room.is_member("daily", "Sam")


def test_the_link_of_a_list_no_longer_sent_names_it_and_still_unsubscribes(
    room: Newsroom, client: TestClient
) -> None:
    # Its reader may still be held on it (a list taken out of the config): the page names the
    # list the link was made for, so that the reader knows what the button leaves.
    sam = room.subscriber("daily", "Sam")
    token = room.services.signer.unsubscribe_token(sam.id, "evening-extra")
    page = client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200 and "evening-extra" in page.text
    pressed = client.post(f"/unsubscribe/{token}", data={"form_token": form_token(page.text)})
    assert pressed.status_code == 200 and "evening-extra" in pressed.text


def test_an_old_link_one_clicked_on_pages_not_restarted_since_a_rename_still_unsubscribes(
    room: Newsroom,
) -> None:
    # The list was "morning" and is "daily" now (previous_slugs): the cycle has carried its
    # members over, but `digest serve` still runs on the config it read before the rename.
    # The old mail's link names "morning", which that config knows and the database no longer
    # holds: the one-click answered "Unsubscribed." and the reader stayed on the list.
    settings = room.services.settings
    before = tuple(
        digest_list.model_copy(update={"slug": "morning", "previous_slugs": []})
        if digest_list.slug == "daily"
        else digest_list
        for digest_list in settings.lists
    )
    stale = build_services(
        settings.model_copy(update={"lists": before}),
        clock=room.clock,
        transport=MemoryTransport(),
    )
    sam = room.subscriber("daily", "Sam")
    old_link = stale.signer.unsubscribe_token(sam.id, "morning")
    try:
        with serving(create_app(stale), "127.0.0.1", 0) as address:
            answer = httpx.post(
                f"{address}/unsubscribe/{old_link}", headers=FORM, content=ONE_CLICK["content"]
            )
    finally:
        stale.close()
    assert (answer.status_code, answer.text) == (200, "Unsubscribed.\n")
    # The next cycle, on the config now, takes the reader off the list by its former slug.
    pipeline.members_in_step(room.services, room.clock.now())
    assert not room.is_member("daily", "Sam")
    assert room.is_member("daily", "Rana") and room.is_member("arabic", "Sam")


def test_the_page_of_an_arabic_list_is_arabic_and_right_to_left(
    room: Newsroom, client: TestClient
) -> None:
    token = room.unsubscribe_token("arabic", "Rana")
    page = client.get(f"/unsubscribe/{token}")
    assert '<html lang="ar" dir="rtl">' in page.text
    assert "إلغاء الاشتراك" in page.text and "النشرة اليومية" in page.text
    english = client.get(f"/unsubscribe/{room.unsubscribe_token('daily', 'Rana')}")
    assert '<html lang="en" dir="ltr">' in english.text


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200).map(str.encode),
        st.dictionaries(st.text(max_size=30), st.text(max_size=60), max_size=4).map(
            lambda fields: urlencode(fields).encode()
        ),
    ),
    content_type=st.sampled_from(
        ["application/x-www-form-urlencoded", "multipart/form-data; boundary=b", "text/plain", ""]
    ),
)
def test_a_valid_link_with_any_other_body_changes_nothing(
    room: Newsroom, client: TestClient, body: bytes, content_type: str
) -> None:
    assume(b"One-Click" not in body)  # the one body that does unsubscribe (tested above)
    token = room.unsubscribe_token("daily", "Sam")
    headers = {"content-type": content_type} if content_type else {}
    answer = client.post(f"/unsubscribe/{token}", content=body, headers=headers)
    assert answer.status_code in (403, 413), answer.status_code
    assert room.is_member("daily", "Sam")


def test_the_pages_button_posted_from_another_site_changes_nothing_but_one_click_still_works(
    room: Newsroom, client: TestClient
) -> None:
    token = room.unsubscribe_token("daily", "Sam")
    page = client.get(f"/unsubscribe/{token}")
    # "null": a sandboxed frame or a data: page, which any site can make its visitors open.
    for origin in ("https://evil.example", "null", "http://news.example.org"):
        refused = client.post(
            f"/unsubscribe/{token}",
            data={"form_token": form_token(page.text)},
            headers={"Origin": origin},
        )
        assert refused.status_code == 403 and room.is_member("daily", "Sam"), origin
    foreign = {"Origin": "https://evil.example"}
    # A mailbox provider's one-click POST names whatever origin it likes, or none: the token in
    # the link is its authority (RFC 8058).
    one_click = client.post(f"/unsubscribe/{token}", headers={**FORM, **foreign}, **ONE_CLICK)
    assert one_click.status_code == 200 and not room.is_member("daily", "Sam")


def test_a_one_click_body_ending_in_a_line_break_unsubscribes_and_is_recorded_as_one_click(
    room: Newsroom, client: TestClient
) -> None:
    # Some senders end the body with a line break (a form field written to a file, a script's
    # echo); it is still the one-click, and the suppression file says which way the reader left.
    token = room.unsubscribe_token("daily", "Sam")
    body = ONE_CLICK["content"] + b"\r\n"
    answer = client.post(f"/unsubscribe/{token}", headers=FORM, content=body)
    assert (answer.status_code, answer.text) == (200, "Unsubscribed.\n")
    assert not room.is_member("daily", "Sam")
    assert [line.split(",")[:3] for line in suppression_lines(room)] == [
        ["sam@example.org", "daily", "one-click"]
    ]


def test_a_damaged_link_says_what_to_do_to_the_reader_and_to_the_one_click(
    room: Newsroom, client: TestClient
) -> None:
    bad = tampered(room.unsubscribe_token("daily", "Sam"))[0]
    page = client.get(f"/unsubscribe/{bad}")
    assert "<h1>This link is damaged</h1>" in page.text
    advice = (
        "The unsubscribe link could not be read: part of it may have been lost when it was "
        "copied. Open it again from the mail itself, or reply to the mail and ask to be "
        "unsubscribed."
    )
    assert f'<p class="lede">{advice}</p>' in page.text
    one_click = client.post(f"/unsubscribe/{bad}", headers=FORM, **ONE_CLICK)
    assert (one_click.status_code, one_click.text) == (400, "This unsubscribe link is damaged.\n")


def test_once_unsubscribed_from_a_list_no_longer_sent_no_archive_is_linked(
    room: Newsroom, client: TestClient
) -> None:
    gone = room.services.signer.unsubscribe_token(room.subscriber("daily", "Rana").id, "gone")
    page = client.get(f"/unsubscribe/{gone}")
    done = client.post(f"/unsubscribe/{gone}", data={"form_token": form_token(page.text)})
    assert done.status_code == 200 and "Past editions" not in done.text
