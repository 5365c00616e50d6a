"""/preferences/{token}: the link of every mail to the reader's settings (issue #11 point 5).
A GET changes nothing; the form, with its form token, saves the list's topics the reader wants
(their next edition follows them), their name and timezone, and the lists they stay on."""

from __future__ import annotations

import email
import re
from collections.abc import Collection, Iterator
from datetime import timedelta
from email import policy
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from starlette.testclient import TestClient

from digest.clock import FixedClock
from digest.preferences import (
    ListMembership,
    Preferences,
    PreferencesGone,
    PreferencesRefused,
    preferences_of,
    save_preferences,
)
from digest.privacy import forget
from digest.sample_server import serve_folder
from digest.services import Services
from digest.store.schema import SubscriberRow, SubscriptionChangeRow
from digest.unsubscribes import unsubscribe
from digest.web import create_app
from digest.web.server import serving
from digest.web.words import ENGLISH
from tests.configs import service_table
from tests.test_lists import run, settings_of, start
from tests.test_pipeline import DAY1, write_feed

TOPICS = ["iran", "gulf", "levant"]
FORM = {"content-type": "application/x-www-form-urlencoded"}


def config(
    tmp_path: Path, base_url: str, lists: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    (tmp_path / "members.csv").write_text(
        "email,name\nsam@example.org,Sam\nrana@example.org,Rana\n"
    )
    common = {"schedule": "0 7 * * *", "timezone": "Asia/Dubai", "subscribers": "members.csv"}
    return {
        "service": service_table(tmp_path),
        "ingest": {"allow_private_addresses": True},
        "feeds": [{"name": "Wire", "url": f"{base_url}/wire.xml"}],
        "topics": [
            {"slug": slug, "name": f"The {slug.title()}", "rules": {"include": [slug.title()]}}
            for slug in TOPICS
        ],
        "lists": lists
        or [
            {"slug": "daily", "name": "The Daily Brief", "topics": TOPICS, **common},
            {"slug": "arabic", "name": "النشرة", "language": "ar", "topics": ["iran"], **common},
        ],
    }


@pytest.fixture
def room(tmp_path: Path) -> Iterator[tuple[Services, Any, Path]]:
    folder = tmp_path / "feeds"
    folder.mkdir()
    write_feed(folder, [])
    with serve_folder(folder) as base_url:
        services, transport = start(
            settings_of(tmp_path, config(tmp_path, base_url)), FixedClock(DAY1)
        )
        run(services)  # the members come in
        try:
            yield services, transport, folder
        finally:
            services.close()


@pytest.fixture
def client(room: tuple[Services, Any, Path]) -> TestClient:
    return TestClient(create_app(room[0]))


def member(services: Services, name: str) -> int:
    """The subscriber id of Sam or Rana, whatever their name is now."""
    found = services.store.subscriber_by_email(f"{name.lower()}@example.org")
    assert found is not None
    return found.id


def link(services: Services, name: str, slug: str = "daily") -> str:
    return f"/preferences/{services.signer.preferences_token(member(services, name), slug)}"


def form_token(page: str) -> str:
    match = re.search(r'name="form_token" value="([^"]+)"', page)
    assert match is not None, page
    return match.group(1)


def forget_sam(services: Services) -> None:
    """Sam asks to be forgotten: erased, never imported or mailed again."""
    forget(
        services.settings,
        services.store,
        services.address_key,
        "sam@example.org",
        services.clock.now(),
    )


def state(services: Services) -> tuple[Any, ...]:
    """Everything a preferences form could change, to compare before and after."""
    with services.store.transaction() as session:
        people = session.execute(
            select(
                SubscriberRow.email,
                SubscriberRow.name,
                SubscriberRow.timezone,
                SubscriberRow.set_by,
            )
        ).all()
        history = session.execute(select(SubscriptionChangeRow.id)).all()
    memberships = {
        name: services.store.memberships_of(member(services, name)) for name in ("Sam", "Rana")
    }
    return tuple(sorted(people)), len(history), memberships


def test_opening_the_page_shows_the_readers_choices_and_changes_nothing(
    room: tuple[Services, Any, Path], client: TestClient
) -> None:
    services = room[0]
    before = state(services)
    for _ in range(3):
        page = client.get(link(services, "Sam"))
        assert page.status_code == 200
    assert state(services) == before
    assert page.headers["cache-control"] == "no-store"
    assert "Your preferences for" in page.text and "The Daily Brief" in page.text
    for slug in TOPICS:  # every topic ticked: the reader chose none
        assert f'id="topic-{slug}" name="topics" value="{slug}" checked' in page.text
    assert 'name="lists" value="daily" checked' in page.text
    assert 'name="lists" value="arabic" checked' in page.text
    assert 'id="name" name="name" type="text" autocomplete="name" maxlength="100" value="Sam"' in (
        page.text
    )
    assert "Asia/Dubai" in page.text  # the list's own zone, named in the hint
    assert page.text.count("<form") == 1


def test_saving_keeps_the_topics_name_and_timezone_as_the_readers_own(
    room: tuple[Services, Any, Path], client: TestClient
) -> None:
    services = room[0]
    path = link(services, "Sam")
    token = form_token(client.get(path).text)
    fields = [
        ("form_token", token),
        ("topics", "levant"),
        ("topics", "iran"),
        ("name", "Sam\r\nBcc: eve@example.org"),
        ("timezone", "Europe/London"),
        ("lists", "daily"),
        ("lists", "arabic"),
    ]
    saved = client.post(path, content=urlencode(fields), headers=FORM)
    assert saved.status_code == 200 and "Saved." in saved.text
    sam = member(services, "Sam")
    assert services.store.topic_choices("daily") == {sam: ("iran", "levant")}
    held = services.store.held_subscriber(sam)
    assert held is not None and held.name == "Sam Bcc: eve@example.org"  # one line
    assert held.timezone == "Europe/London"
    assert 'value="gulf">' in saved.text and 'value="iran" checked' in saved.text
    # A CSV import later changes neither: they are the reader's own.
    (Path(services.settings.source).parent / "members.csv").write_text(
        "email,name,timezone\nsam@example.org,Samuel,Asia/Dubai\nrana@example.org,Rana,\n"
    )
    run(services)
    again = services.store.held_subscriber(sam)
    assert again is not None and again.timezone == "Europe/London"
    # Their zone is in its field when they come back: a page saved again keeps it.
    field = 'name="timezone" type="text" maxlength="64" dir="ltr" value="Europe/London"'
    assert field in saved.text and field in client.get(path).text
    # Every topic ticked again: back to the plain edition, no choice kept.
    token = form_token(saved.text)
    every = [("form_token", token), *[("topics", slug) for slug in TOPICS], ("lists", "daily")]
    client.post(path, content=urlencode([*every, ("lists", "arabic")]), headers=FORM)
    assert services.store.topic_choices("daily") == {}


def test_unticking_a_list_unsubscribes_from_it_by_the_preferences_channel(
    room: tuple[Services, Any, Path], client: TestClient
) -> None:
    services = room[0]
    path = link(services, "Rana")
    token = form_token(client.get(path).text)
    fields = [("form_token", token), ("topics", "iran"), ("lists", "daily")]  # not arabic
    assert client.post(path, content=urlencode(fields), headers=FORM).status_code == 200
    rana = member(services, "Rana")
    held = services.store.memberships_of(rana)
    assert held["arabic"][0] == "unsubscribed" and held["daily"][0] == "confirmed"
    with services.store.transaction() as session:
        channel = session.execute(
            select(SubscriptionChangeRow.channel).where(
                SubscriptionChangeRow.subscriber_id == rana,
                SubscriptionChangeRow.list_slug == "arabic",
                SubscriptionChangeRow.to_status == "unsubscribed",
            )
        ).scalar_one()
    assert channel == "preferences"
    # The page now offers to sign up again, not a box to tick.
    page = client.get(path).text
    assert 'value="arabic"' not in page and 'href="/subscribe/arabic"' in page


@pytest.mark.parametrize(
    ("fields", "status", "says"),
    [
        ([("topics", "iran")], 403, "open too long"),  # no form token
        ([("form_token", "forged"), ("topics", "iran")], 403, "open too long"),
        ([("form_token", "OK"), ("lists", "daily")], 400, "Choose at least one topic"),
        ([("form_token", "OK"), ("topics", "sport")], 400, "Choose at least one topic"),
        ([("form_token", "OK"), ("topics", "iran"), ("timezone", "Mars/Base")], 400, "Asia/Dubai"),
        ([("form_token", "OK"), ("topics", "iran"), ("timezone", "x" * 3000)], 400, "Asia/Dubai"),
        # A folder of the tz database (ZoneInfo raised IsADirectoryError: a 500), and a file of
        # it that is a zone but no IANA name (leap seconds counted: clocks 27 seconds off).
        ([("form_token", "OK"), ("topics", "iran"), ("timezone", "Asia")], 400, "Asia/Dubai"),
        ([("form_token", "OK"), ("topics", "iran"), ("timezone", "right/UTC")], 400, "Asia/Dubai"),
        # Debian's link to the machine's own zone: the zone of whichever machine builds.
        ([("form_token", "OK"), ("topics", "iran"), ("timezone", "localtime")], 400, "Asia/Dubai"),
    ],
)
def test_a_form_that_cannot_be_taken_changes_nothing_and_says_why(
    room: tuple[Services, Any, Path],
    client: TestClient,
    fields: list[tuple[str, str]],
    status: int,
    says: str,
) -> None:
    services = room[0]
    path = link(services, "Sam")
    token = form_token(client.get(path).text)
    before = state(services)
    fields = [(key, token if value == "OK" else value) for key, value in fields]
    answer = client.post(path, content=urlencode([*fields, ("name", "Changed")]), headers=FORM)
    assert answer.status_code == status and says in answer.text
    assert state(services) == before and services.store.topic_choices("daily") == {}


def test_a_refused_form_and_a_reader_gone_say_why_to_the_library_s_caller(
    room: tuple[Services, Any, Path],
) -> None:
    services = room[0]
    sam, daily = member(services, "Sam"), services.settings.list("daily")
    kept = {"name": "Sam", "stay_on": ("daily", "arabic")}
    for topics, zone, field, problem in (
        ((), "", "topics", "choose at least one topic"),
        (("iran",), "Mars/Olympus", "timezone", "unknown timezone 'Mars/Olympus'"),
    ):
        with pytest.raises(PreferencesRefused) as refused:
            save_preferences(services, sam, daily, topics=topics, timezone=zone, **kept)
        assert (refused.value.field, refused.value.problem) == (field, problem)
        assert str(refused.value) == problem
    forget_sam(services)
    with pytest.raises(PreferencesGone) as gone:
        preferences_of(services, sam, daily)
    assert str(gone.value) == f"subscriber {sam} is not held any more"


def test_a_list_the_reader_never_joined_is_shown_named_in_its_language_to_sign_up_to(
    tmp_path: Path,
) -> None:
    # Sam is on the daily list only: the page names the Arabic one in Arabic, right to left,
    # with its sign-up link, and the Arabic list's own page opens with its every topic.
    folder = tmp_path / "feeds"
    folder.mkdir()
    write_feed(folder, [])
    (tmp_path / "rana.csv").write_text("email,name\nrana@example.org,Rana\n")
    common = {"schedule": "0 7 * * *", "timezone": "Asia/Dubai"}
    lists = [
        {"slug": "daily", "name": "The Daily Brief", "topics": TOPICS, **common,
         "subscribers": "members.csv"},
        {"slug": "arabic", "name": "النشرة", "language": "ar", "topics": ["iran", "gulf"],
         **common, "subscribers": "rana.csv"},
    ]  # fmt: skip
    with serve_folder(folder) as base_url:
        settings = settings_of(tmp_path, config(tmp_path, base_url, lists))
        services, _ = start(settings, FixedClock(DAY1))
        try:
            run(services)
            client, sam = TestClient(create_app(services)), member(services, "Sam")
            page = client.get(link(services, "Sam")).text
            assert '<span id="list-name-arabic" lang="ar" dir="rtl">النشرة</span>' in page
            assert 'href="/subscribe/arabic" id="signup-arabic"' in page
            assert preferences_of(services, sam, settings.list("arabic")) == Preferences(
                sam,
                "sam@example.org",
                "Sam",
                None,
                ("iran", "gulf"),
                (
                    ListMembership("daily", "The Daily Brief", "en", "confirmed", "daily"),
                    ListMembership("arabic", "النشرة", "ar", None, None),
                ),
            )
            arabic = client.get(link(services, "Sam", "arabic"))
            assert arabic.status_code == 200
            assert 'name="topics" value="gulf" checked' in arabic.text
        finally:
            services.close()


def test_the_field_refused_is_the_one_marked_invalid_and_tied_to_the_reason(
    room: tuple[Services, Any, Path], client: TestClient
) -> None:
    """A screen reader says a field is invalid, and why, from the field itself: with no topic
    ticked, the timezone field was the one marked invalid, and neither was tied to the notice
    that says what is wrong."""
    path = link(room[0], "Sam")
    token = form_token(client.get(path).text)
    shown = [("shown_topics", slug) for slug in TOPICS]

    def refused(fields: list[tuple[str, str]]) -> tuple[str, str]:
        answer = client.post(
            path, content=urlencode([("form_token", token), *shown, *fields]), headers=FORM
        )
        assert answer.status_code == 400
        zone = re.search(r'<input id="timezone"[^>]*>', answer.text)
        topics = re.search(r"<fieldset[^>]*>\s*<legend>[^<]*topics", answer.text, re.I)
        assert zone is not None and topics is not None, answer.text
        return zone[0], topics[0]

    zone, topics = refused([("timezone", "Asia/Dubai")])  # no topic ticked
    assert "aria-invalid" not in zone and 'aria-describedby="problem"' in topics
    zone, topics = refused([("topics", "iran"), ("timezone", "Mars/Olympus")])
    assert 'aria-invalid="true"' in zone and "problem" not in topics
    assert re.search(r'aria-describedby="problem timezone-hint"', zone)


def test_damaged_foreign_and_stale_links_are_refused(
    room: tuple[Services, Any, Path], client: TestClient, tmp_path: Path
) -> None:
    services = room[0]
    sam = member(services, "Sam")
    path = link(services, "Sam")
    assert client.get(path[:-3]).status_code == 400
    unsubscribe_token = services.signer.unsubscribe_token(sam, "daily")
    assert client.get(f"/preferences/{unsubscribe_token}").status_code == 400
    assert client.get(f"/preferences/{'x' * 400}").status_code == 400
    gone = services.signer.preferences_token(sam, "weekly")  # a list no longer configured
    answer = client.get(f"/preferences/{gone}")
    assert answer.status_code == 410 and "no longer sent" in answer.text
    forget_sam(services)
    answer = client.get(path)
    assert answer.status_code == 410 and "no longer on our lists" in answer.text
    assert f"<h1>{ENGLISH.preferences_gone_title}</h1>" in answer.text


def test_the_arabic_lists_page_is_in_its_words_and_right_to_left(
    room: tuple[Services, Any, Path], client: TestClient
) -> None:
    services = room[0]
    page = client.get(link(services, "Sam", "arabic"))
    assert page.status_code == 200
    assert '<html lang="ar" dir="rtl"' in page.text and "إعداداتك في" in page.text


def test_a_new_choice_shapes_the_next_edition_of_that_reader_only(
    room: tuple[Services, Any, Path], client: TestClient
) -> None:
    services, transport, folder = room
    path = link(services, "Sam")
    token = form_token(client.get(path).text)
    fields = [("form_token", token), ("topics", "iran"), ("lists", "daily"), ("lists", "arabic")]
    saved = client.post(path, content=urlencode([*fields, ("name", "S" * 5000)]), headers=FORM)
    assert saved.status_code == 200, saved.text
    when = DAY1 + timedelta(days=1)
    write_feed(
        folder,
        [
            (1, "Iran reopens talks on its uranium stockpile", when - timedelta(hours=1)),
            (
                2,
                "Gulf ports expand shipping lanes after a record season",
                when - timedelta(hours=1),
            ),
        ],
    )
    services.clock.set(when)  # type: ignore[attr-defined]
    transport.sent.clear()
    run(services)
    daily = {
        message.recipient: email.message_from_bytes(message.data, policy=policy.default)
        for message in transport.sent
        if "Daily Brief" in email.message_from_bytes(message.data, policy=policy.default)["Subject"]
    }
    sam, rana = daily["sam@example.org"], daily["rana@example.org"]
    sam_text = sam.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    rana_text = rana.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "uranium" in sam_text and "shipping lanes" not in sam_text
    assert "uranium" in rana_text and "shipping lanes" in rana_text
    # The 5,000-character name was cut to the field's length: the To header stays one that
    # servers take (a line under 998 characters), with the name the reader gave.
    to = sam["To"]
    assert "sam@example.org" in to and len(str(to)) < 998


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fields=st.lists(
        st.tuples(
            st.sampled_from(["topics", "lists", "name", "timezone", "form_token", "x"]),
            st.text(max_size=80),
        ),
        max_size=12,
    ),
    raw=st.binary(max_size=300),
    use_raw=st.booleans(),
    content_type=st.sampled_from(
        ["application/x-www-form-urlencoded", "multipart/form-data; boundary=b", "text/plain", ""]
    ),
)
def test_no_body_without_the_pages_form_token_makes_a_500_or_changes_anything(
    room: tuple[Services, Any, Path],
    client: TestClient,
    fields: list[tuple[str, str]],
    raw: bytes,
    use_raw: bool,
    content_type: str,
) -> None:
    services = room[0]
    before = state(services)
    body = raw if use_raw else urlencode(fields).encode()
    headers = {"content-type": content_type} if content_type else {}
    answer = client.post(link(services, "Sam"), content=body, headers=headers)
    assert answer.status_code in (400, 403, 413), answer.status_code
    assert state(services) == before and services.store.topic_choices("daily") == {}


def test_a_form_posted_from_another_site_changes_nothing(
    room: tuple[Services, Any, Path], client: TestClient
) -> None:
    services = room[0]
    path = link(services, "Sam")
    token = form_token(client.get(path).text)
    before = state(services)
    fields = [("form_token", token), ("topics", "iran"), ("lists", "daily"), ("name", "Evil")]
    answer = client.post(
        path,
        content=urlencode(fields),
        headers={
            "Origin": "https://evil.example",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert answer.status_code == 403 and 'name="form_token"' in answer.text
    assert state(services) == before


def _form_as_a_browser_posts_it(
    page: str, *, unticked: Collection[tuple[str, str]] = (), timezone: str | None = None
) -> list[tuple[str, str]]:
    """The fields a browser sends for the page's form as it stands: hidden and text inputs,
    ticked boxes; with the boxes ``unticked`` (name, value) left out and, when given,
    ``timezone`` typed in the timezone field, as a reader would change the page."""
    fields = []
    for tag in re.findall(r"<input [^>]*>", page):
        kind = re.search(r'type="([^"]+)"', tag)
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name is None or kind is None:
            continue
        if kind.group(1) == "checkbox" and " checked" not in tag:
            continue
        field = (name.group(1), value.group(1) if value else "")
        if field in unticked:
            continue
        if timezone is not None and field[0] == "timezone":
            field = ("timezone", timezone)
        fields.append(field)
    return fields


def test_a_list_joined_while_the_page_was_open_is_not_left_by_saving_it(
    room: tuple[Services, Any, Path],
) -> None:
    """Rana opens the page of her daily mail, joins the Arabic list in another tab, then
    saves a new timezone on the page still open: the page had no box for the Arabic list, so
    she cannot have unticked it. Saving it unsubscribed her from the list she had just joined."""
    services = room[0]
    rana = member(services, "Rana")
    unsubscribe(services, rana, "arabic", "unsubscribe-page")
    with serving(create_app(services), "127.0.0.1", 0) as address, httpx.Client() as browser:
        path = link(services, "Rana")
        page = browser.get(address + path).text
        assert 'name="lists" value="arabic"' not in page  # a sign-up link, no box
        # The other tab: signed up again and confirmed.
        services.store.sign_up("rana@example.org", None, "arabic", "key", services.clock.now())
        services.store.confirm(rana, "arabic", services.clock.now(), "sign-up")
        assert services.store.memberships_of(rana)["arabic"][0] == "confirmed"
        fields = _form_as_a_browser_posts_it(page, timezone="Europe/London")
        saved = browser.post(address + path, content=urlencode(fields), headers=FORM)
    assert saved.status_code == 200 and "Saved." in saved.text
    held = services.store.memberships_of(rana)
    assert held["arabic"][0] == "confirmed" and held["daily"][0] == "confirmed"
    subscriber = services.store.held_subscriber(rana)
    assert subscriber is not None and subscriber.timezone == "Europe/London"
    # Unticking the box the page does show still leaves that list.
    page = saved.text
    fields = _form_as_a_browser_posts_it(page, unticked={("lists", "arabic")})
    with serving(create_app(services), "127.0.0.1", 0) as address:
        left = httpx.post(address + path, content=urlencode(fields), headers=FORM)
    assert left.status_code == 200
    assert services.store.memberships_of(rana)["arabic"][0] == "unsubscribed"


def test_a_form_shown_again_for_a_mistake_keeps_the_boxes_the_reader_changed(
    room: tuple[Services, Any, Path],
) -> None:
    """Sam unticks a topic and a list and mistypes the timezone: the page comes back saying
    so, with his boxes as he left them. It came back with every box as saved before, and once
    he fixed the timezone and saved, what he had unticked was in his editions again."""
    services = room[0]
    sam = member(services, "Sam")
    path = link(services, "Sam")
    with serving(create_app(services), "127.0.0.1", 0) as address, httpx.Client() as browser:
        page = browser.get(address + path).text
        fields = _form_as_a_browser_posts_it(
            page, unticked={("topics", "gulf"), ("lists", "arabic")}, timezone="Mars/Base"
        )
        mistaken = browser.post(address + path, content=urlencode(fields), headers=FORM)
        assert mistaken.status_code == 400 and "Asia/Dubai" in mistaken.text
        assert 'value="gulf">' in mistaken.text and 'value="iran" checked' in mistaken.text
        assert 'name="lists" value="arabic">' in mistaken.text
        assert 'name="lists" value="daily" checked' in mistaken.text
        assert 'value="Mars/Base"' in mistaken.text
        # He puts the timezone right and saves the page as it now stands.
        fields = _form_as_a_browser_posts_it(mistaken.text, timezone="Europe/London")
        saved = browser.post(address + path, content=urlencode(fields), headers=FORM)
    assert saved.status_code == 200
    assert services.store.topic_choices("daily") == {sam: ("iran", "levant")}
    held = services.store.memberships_of(sam)
    assert held["arabic"][0] == "unsubscribed" and held["daily"][0] == "confirmed"


def test_pressing_again_a_page_open_too_long_saves_what_the_reader_chose(
    room: tuple[Services, Any, Path],
) -> None:
    """Sam leaves the page open overnight, unticks a topic and saves: the page says it was
    open too long and to press the button again. It came back with the topic ticked again, so
    pressing again, as it said, saved the page as it had been and his change was lost."""
    services = room[0]
    sam = member(services, "Sam")
    path = link(services, "Sam")
    with serving(create_app(services), "127.0.0.1", 0) as address, httpx.Client() as browser:
        page = browser.get(address + path).text
        services.clock.advance(timedelta(hours=13))  # type: ignore[attr-defined]
        fields = _form_as_a_browser_posts_it(page, unticked={("topics", "gulf")})
        late = browser.post(address + path, content=urlencode(fields), headers=FORM)
        assert late.status_code == 403 and "open too long" in late.text
        assert services.store.topic_choices("daily") == {}  # nothing saved
        assert 'value="gulf">' in late.text and 'value="iran" checked' in late.text
        again = browser.post(
            address + path,
            content=urlencode(_form_as_a_browser_posts_it(late.text)),
            headers=FORM,
        )
        assert again.status_code == 200
        assert services.store.topic_choices("daily") == {sam: ("iran", "levant")}
        # A post from another site is not drawn back into the page: its choices are not the
        # reader's, and "press the button again" must not save them.
        forged = [(n, v) for n, v in _form_as_a_browser_posts_it(again.text) if n != "topics"]
        foreign = browser.post(
            address + path,
            content=urlencode([*forged, ("topics", "gulf"), ("name", "Evil")]),
            headers={**FORM, "Origin": "https://evil.example"},
        )
        assert foreign.status_code == 403
        assert 'value="gulf">' in foreign.text and "Evil" not in foreign.text


def test_a_list_joined_while_the_page_was_open_stays_ticked_when_it_comes_back_for_a_mistake(
    room: tuple[Services, Any, Path],
) -> None:
    """As above, but Rana mistypes the timezone: the page comes back with a box for the list
    she joined meanwhile, which she never unticked. Unticked, saving the page again left it."""
    services = room[0]
    rana = member(services, "Rana")
    unsubscribe(services, rana, "arabic", "unsubscribe-page")
    with serving(create_app(services), "127.0.0.1", 0) as address, httpx.Client() as browser:
        path = link(services, "Rana")
        page = browser.get(address + path).text
        services.store.sign_up("rana@example.org", None, "arabic", "key", services.clock.now())
        services.store.confirm(rana, "arabic", services.clock.now(), "sign-up")
        fields = _form_as_a_browser_posts_it(page, timezone="Mars/Base")
        mistaken = browser.post(address + path, content=urlencode(fields), headers=FORM)
        assert mistaken.status_code == 400
        assert 'name="lists" value="arabic" checked' in mistaken.text
        fields = _form_as_a_browser_posts_it(mistaken.text, timezone="Europe/London")
        saved = browser.post(address + path, content=urlencode(fields), headers=FORM)
    assert saved.status_code == 200
    assert services.store.memberships_of(rana)["arabic"][0] == "confirmed"


def test_a_topic_added_while_the_page_was_open_is_not_dropped_by_saving_it(
    room: tuple[Services, Any, Path], tmp_path: Path
) -> None:
    """Sam, who never chose (every topic, those to come too), opens his page while the daily
    list has two topics; the newsroom adds a third and restarts the pages; Sam saves his page
    unchanged. The page had no box for the new topic, so he cannot have unticked it: saving
    wrote a choice of the two, and his editions lost the new topic."""
    services = room[0]
    sam = member(services, "Sam")
    common = {"schedule": "0 7 * * *", "timezone": "Asia/Dubai", "subscribers": "members.csv"}
    two_topics = [
        {"slug": "daily", "name": "The Daily Brief", "topics": ["iran", "gulf"], **common},
        {"slug": "arabic", "name": "النشرة", "language": "ar", "topics": ["iran"], **common},
    ]
    before, _ = start(
        settings_of(tmp_path, config(tmp_path, "http://127.0.0.1:9", two_topics)),
        FixedClock(DAY1),
    )
    try:
        path = link(services, "Sam")
        with serving(create_app(before), "127.0.0.1", 0) as address:
            page = httpx.get(address + path).text
        assert 'value="levant"' not in page
    finally:
        before.close()
    with serving(create_app(services), "127.0.0.1", 0) as address:  # restarted: three topics
        fields = _form_as_a_browser_posts_it(page)
        saved = httpx.post(address + path, content=urlencode(fields), headers=FORM)
    assert saved.status_code == 200
    assert services.store.topic_choices("daily") == {}  # still every topic
    assert 'value="levant" checked' in saved.text
    # A box the page did have, unticked, is still left out.
    fields = _form_as_a_browser_posts_it(saved.text, unticked={("topics", "gulf")})
    with serving(create_app(services), "127.0.0.1", 0) as address:
        httpx.post(address + path, content=urlencode(fields), headers=FORM)
    assert services.store.topic_choices("daily") == {sam: ("iran", "levant")}


def test_a_topic_renamed_before_the_next_cycle_stays_chosen_on_the_page(
    room: tuple[Services, Any, Path], tmp_path: Path
) -> None:
    """Sam chose Iran and the Gulf. The newsroom renames "gulf" to "gulf-states", saying what
    it was called; the pages take the edit within seconds, and the choices move at the next
    cycle. In between, his page showed the renamed topic unticked, and saving it (for his
    name alone) wrote a choice of Iran only: a config edit undid the reader's word."""
    services = room[0]
    sam = member(services, "Sam")
    services.store.choose_topics(sam, "daily", ["iran", "gulf"])
    raw = config(tmp_path, "http://127.0.0.1:9")
    for entry in raw["topics"]:
        if entry["slug"] == "gulf":
            entry["slug"], entry["previous_slugs"] = "gulf-states", ["gulf"]
    for entry in raw["lists"]:
        entry["topics"] = ["gulf-states" if slug == "gulf" else slug for slug in entry["topics"]]
    renamed, _ = start(settings_of(tmp_path, raw), FixedClock(DAY1))  # no cycle has run
    try:
        path = link(renamed, "Sam")
        with serving(create_app(renamed), "127.0.0.1", 0) as address:
            page = httpx.get(address + path).text
            assert 'value="gulf-states" checked' in page
            assert 'value="iran" checked' in page and 'value="levant" checked' not in page
            fields = [
                (key, "Sam Q" if key == "name" else value)
                for key, value in _form_as_a_browser_posts_it(page)
            ]
            saved = httpx.post(address + path, content=urlencode(fields), headers=FORM)
        assert saved.status_code == 200
        assert renamed.store.topic_choices("daily") == {sam: ("gulf-states", "iran")}
        run(renamed)  # the next cycle carries the rename over: nothing left to move
        assert renamed.store.topic_choices("daily") == {sam: ("gulf-states", "iran")}
    finally:
        renamed.close()


def test_a_list_of_many_topics_takes_its_readers_whole_form(tmp_path: Path) -> None:
    """A desk's list of a topic per country: the page has two fields per topic box (the box
    and its hidden twin) and two per list. Past 200 fields in all the form was taken for no
    form of ours, and every save came back as an expired page that saved nothing."""
    raw = config(tmp_path, "http://127.0.0.1:9")
    countries = [f"country-{number}" for number in range(120)]
    raw["topics"] += [
        {"slug": slug, "name": slug.title(), "rules": {"include": [slug]}} for slug in countries
    ]
    raw["lists"][0]["topics"] = [*TOPICS, *countries]
    services, _ = start(settings_of(tmp_path, raw), FixedClock(DAY1))
    try:
        run(services)  # the members come in
        path = link(services, "Sam")
        with serving(create_app(services), "127.0.0.1", 0) as address:
            page = httpx.get(address + path).text
            fields = [f for f in _form_as_a_browser_posts_it(page) if f != ("topics", "gulf")]
            assert len(fields) > 240
            saved = httpx.post(address + path, content=urlencode(fields), headers=FORM)
            assert saved.status_code == 200, saved.text
            sam = member(services, "Sam")
            kept = sorted(slug for slug in services.settings.list("daily").topics if slug != "gulf")
            assert services.store.topic_choices("daily") == {sam: tuple(kept)}
            # A post of many more fields than the page has is still no form of ours.
            flood = [*fields, *[("topics", f"x{number}") for number in range(400)]]
            refused = httpx.post(address + path, content=urlencode(flood), headers=FORM)
            assert refused.status_code == 403
            assert services.store.topic_choices("daily") == {sam: tuple(kept)}
    finally:
        services.close()


def test_a_list_renamed_before_the_next_cycle_keeps_its_reader_on_it_with_their_topics(
    room: tuple[Services, Any, Path], tmp_path: Path
) -> None:
    """Sam chose Iran on the daily list. The newsroom renames it "daily-brief", saying what it
    was called; the pages take the edit within seconds, the memberships move at the next
    cycle. In between, the link of his last mail showed him off the list (a sign-up link) with
    every topic ticked, and what he saved went nowhere."""
    services = room[0]
    sam = member(services, "Sam")
    services.store.choose_topics(sam, "daily", ["iran"])
    raw = config(tmp_path, "http://127.0.0.1:9")
    raw["lists"][0].update(slug="daily-brief", previous_slugs=["daily"])
    renamed, _ = start(settings_of(tmp_path, raw), FixedClock(DAY1))  # no cycle has run
    try:
        path = link(renamed, "Sam")  # made for "daily", as the mail he has
        with serving(create_app(renamed), "127.0.0.1", 0) as address:
            page = httpx.get(address + path).text
            assert 'name="lists" value="daily-brief" checked' in page
            assert "/subscribe/daily-brief" not in page
            assert 'value="iran" checked' in page and 'value="gulf">' in page
            fields = [*_form_as_a_browser_posts_it(page), ("topics", "levant")]
            saved = httpx.post(address + path, content=urlencode(fields), headers=FORM)
            assert saved.status_code == 200
            assert 'value="iran" checked' in saved.text and 'value="levant" checked' in saved.text
        run(renamed)  # the next cycle carries the rename over, the choice with it
        assert renamed.store.topic_choices("daily-brief") == {sam: ("iran", "levant")}
        # And unticking it on the page is an unsubscribe from it, under its new slug.
        with serving(create_app(renamed), "127.0.0.1", 0) as address:
            page = httpx.get(address + path).text
            fields = [f for f in _form_as_a_browser_posts_it(page) if f != ("lists", "daily-brief")]
            httpx.post(address + path, content=urlencode(fields), headers=FORM)
        assert renamed.store.memberships_of(sam)["daily-brief"][0] == "unsubscribed"
    finally:
        renamed.close()


def test_a_list_renamed_before_the_next_cycle_is_left_by_unticking_it_at_once(
    room: tuple[Services, Any, Path], tmp_path: Path
) -> None:
    """Sam unticks the daily list, renamed "daily-brief" a minute ago: his membership is still
    held under "daily" until the next cycle, and it is that one he leaves, not a membership
    the new slug does not have yet."""
    services = room[0]
    sam = member(services, "Sam")
    raw = config(tmp_path, "http://127.0.0.1:9")
    raw["lists"][0].update(slug="daily-brief", previous_slugs=["daily"])
    renamed, _ = start(settings_of(tmp_path, raw), FixedClock(DAY1))  # no cycle has run
    try:
        path = link(renamed, "Sam")
        with serving(create_app(renamed), "127.0.0.1", 0) as address:
            page = httpx.get(address + path).text
            fields = [f for f in _form_as_a_browser_posts_it(page) if f != ("lists", "daily-brief")]
            assert httpx.post(address + path, content=urlencode(fields), headers=FORM).is_success
        assert renamed.store.memberships_of(sam)["daily"][0] == "unsubscribed"
        run(renamed)  # the next cycle carries the rename over: he stays off the list
        assert renamed.store.memberships_of(sam)["daily-brief"][0] == "unsubscribed"
    finally:
        renamed.close()


def test_a_topics_name_in_another_script_than_the_page_is_read_in_its_own_language(
    tmp_path: Path,
) -> None:
    # The config gives a topic one name and no language. On the Arabic list's page, a Hebrew
    # topic's name sat in lang="ar" (read with the Arabic voice); on an English page, an Arabic
    # one in lang="en", laid out left to right.
    raw = config(tmp_path, "http://127.0.0.1:9")
    names = {"iran": "המפרץ", "gulf": "الخليج"}
    for entry in raw["topics"]:
        entry["name"] = names.get(entry["slug"], entry["name"])
    raw["lists"][1]["topics"] = ["iran", "gulf", "levant"]
    services, _ = start(settings_of(tmp_path, raw), FixedClock(DAY1))
    try:
        run(services)
        client = TestClient(create_app(services))
        english = client.get(link(services, "Sam")).text
        arabic = client.get(link(services, "Sam", "arabic")).text
    finally:
        services.close()
    assert '<label for="topic-gulf" lang="ar" dir="rtl">الخليج</label>' in english
    assert '<label for="topic-iran" lang="he" dir="rtl">המפרץ</label>' in english
    assert '<label for="topic-levant">The Levant</label>' in english
    assert '<label for="topic-iran" lang="he" dir="rtl">המפרץ</label>' in arabic
    # Its own script, or Latin letters, which name no language: the page's.
    assert '<label for="topic-gulf">الخليج</label>' in arabic
    assert '<label for="topic-levant">The Levant</label>' in arabic
