"""Sign-up with double opt-in on the app: the form on /, one answer whatever the address, the
confirmation mail (off the request path), /confirm/TOKEN's button, tokens refused, rate limits,
the embeddable form, and only confirmed readers getting editions."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import httpx
import pytest
from limits.storage import MemoryStorage
from starlette.testclient import TestClient

from digest.delivering import deliver_batch
from digest.mail.headers import cut
from digest.mail.transport import MemoryTransport
from digest.records import Subscriber
from digest.signup import SignUpRequest, handle_sign_up
from digest.store.subscribers import CONFIRMED, PENDING, UNSUBSCRIBED
from digest.web import create_app
from digest.web.ratelimits import SignUpLimits
from digest.web.server import serving
from digest.web.signups import JITTER_SECONDS, RETRIES, ThreadQueue, random_delay, retry_wait
from digest.web.words import ENGLISH, words_for
from tests.servers import postgres_cluster
from tests.service_cluster import fresh_database, wait_for
from tests.webtools import Newsroom, build_editions, newsroom

BASE = "https://news.example.org"


@pytest.fixture
def room(tmp_path: Path) -> Iterator[Newsroom]:
    with newsroom(tmp_path, editions=1) as built:
        yield built


@pytest.fixture
def queue(room: Newsroom) -> ThreadQueue:
    return ThreadQueue(room.services, lambda: room.services.transport)


def app_client(room: Newsroom, queue: ThreadQueue, **limits: str) -> TestClient:
    rates = {"per_client": "100/hour", "per_address": "100/hour", **limits}
    return TestClient(
        create_app(
            room.services,
            signups=queue,
            limits=SignUpLimits(
                rates["per_client"],
                rates["per_address"],
                MemoryStorage(),
                per_address_daily=limits.get("per_address_daily"),
            ),
        )
    )


@pytest.fixture
def client(room: Newsroom, queue: ThreadQueue) -> TestClient:
    return app_client(room, queue)


def sent(room: Newsroom) -> list[EmailMessage]:
    transport = room.services.transport
    assert isinstance(transport, MemoryTransport)
    return [
        message_from_bytes(message.data, _class=EmailMessage, policy=default_policy)  # type: ignore[arg-type]
        for message in transport.sent
    ]


def confirmations(room: Newsroom) -> list[EmailMessage]:
    return [message for message in sent(room) if "confirm" in str(message["Message-ID"])]


def form_token(page: str, action: str) -> str:
    match = re.search(
        rf'action="{re.escape(action)}".*?name="form_token" value="([^"]+)"', page, re.S
    )
    assert match is not None, page
    return match.group(1)


def sign_up(client: TestClient, email: str, list_slug: str = "daily", **fields: str):  # type: ignore[no-untyped-def]
    action = f"/subscribe/{list_slug}"
    token = form_token(client.get("/").text, action)
    return client.post(action, data={"form_token": token, "email": email, **fields})


def status_of(room: Newsroom, email: str, list_slug: str = "daily") -> str | None:
    for membership in room.services.store.memberships(list_slug):
        if membership.email == email:
            return membership.status
    return None


def confirm_path(message: EmailMessage) -> str:
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    found = re.search(r"https://news\.example\.org(/confirm/\S+)", text)
    assert found is not None, text
    return found.group(1)


def history(room: Newsroom, email: str) -> list[tuple[str | None, str, str]]:
    from sqlalchemy import select

    from digest.store.schema import SubscriberRow, SubscriptionChangeRow

    with room.services.store.transaction() as session:
        rows = session.execute(
            select(
                SubscriptionChangeRow.from_status,
                SubscriptionChangeRow.to_status,
                SubscriptionChangeRow.channel,
            )
            .join(SubscriberRow, SubscriberRow.id == SubscriptionChangeRow.subscriber_id)
            .where(SubscriberRow.email == email)
            .order_by(SubscriptionChangeRow.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def test_the_front_page_has_a_labelled_sign_up_form_per_list_right_to_left_for_arabic(
    client: TestClient,
) -> None:
    page = client.get("/").text
    assert page.count('<form class="signup"') == 2
    for slug in ("daily", "arabic"):
        assert f'action="/subscribe/{slug}"' in page
        assert f'<label for="email-{slug}">' in page and f'id="email-{slug}"' in page
        assert f'<label for="name-{slug}">' in page
    arabic = page[page.index('action="/subscribe/arabic"') - 200 :]
    assert 'lang="ar" dir="rtl"' in arabic[:300]
    assert "البريد الإلكتروني" in arabic and 'type="email"' in arabic
    # The trap field: out of sight, out of the tab order, hidden from screen readers.
    assert page.count('<div class="trap" aria-hidden="true">') == 2
    assert 'name="website" type="text" tabindex="-1"' in page


def test_a_sign_up_is_pending_and_gets_one_confirmation_mail(
    room: Newsroom, client: TestClient, queue: ThreadQueue
) -> None:
    answer = sign_up(client, "New.Reader@Example.org", name="Nour")
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    queue.join()
    assert status_of(room, "New.Reader@example.org") == PENDING
    assert history(room, "New.Reader@example.org") == [(None, PENDING, "sign-up")]
    assert not room.is_member("daily", "Nour")  # pending: no edition yet
    [mail] = confirmations(room)
    assert mail["To"] == "New.Reader@example.org"  # no name: anyone may have typed it
    assert str(mail["Subject"]) == "Confirm your subscription to Daily Brief"
    assert mail["From"] == "The Desk <desk@example.org>"
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "#a3262a" in html and "Daily Brief" in html and confirm_path(mail) in html
    assert "List-Unsubscribe" not in mail  # not a bulk message


def test_closing_the_queue_sends_what_waits_then_stops_its_thread(
    room: Newsroom, client: TestClient, queue: ThreadQueue
) -> None:
    """What a config edit does to the app it replaces (digest.web.reloading): the sign-ups
    answered on it still get their mail before its services close."""
    before = set(threading.enumerate())
    for name in ("one", "two", "three"):
        assert sign_up(client, f"{name}@example.org").status_code == 200
    [thread] = [t for t in threading.enumerate() if t.name == "digest-sign-ups" and t not in before]
    queue.close()
    assert sorted(mail["To"] for mail in confirmations(room)) == [
        "one@example.org",
        "three@example.org",
        "two@example.org",
    ]
    assert not thread.is_alive()
    queue.close()  # a second close, or one of a queue that never started, does nothing


def test_one_answer_whatever_the_address_and_mail_only_where_due(
    room: Newsroom, client: TestClient, queue: ThreadQueue
) -> None:
    services, now = room.services, room.clock.now()
    sam = room.subscriber("daily", "Sam")
    services.store.unsubscribe(sam.id, "daily", now, "one-click")
    services.store.suppress("gone@example.org", services.address_key, "hard-bounce", "bounce", now)
    sign_up(client, "waiting@example.org")
    queue.join()
    mails_before = len(confirmations(room))
    cases = {
        "new": ("fresh@example.org", {}),
        "pending": ("waiting@example.org", {}),
        "confirmed": ("rana@example.org", {}),
        "unsubscribed": ("sam@example.org", {}),
        "suppressed": ("gone@example.org", {}),
        "honeypot": ("bot@example.org", {"website": "http://spam.example"}),
    }
    answers = {case: sign_up(client, email, **extra) for case, (email, extra) in cases.items()}
    queue.join()
    first = answers["new"]
    assert first.status_code == 200
    for case, answer in answers.items():
        assert answer.status_code == first.status_code, case
        assert answer.content == first.content, case
        assert dict(answer.headers) == dict(first.headers), case
    for email, _ in cases.values():
        assert email not in first.text
    mailed = sorted(str(m["To"]) for m in confirmations(room)[mails_before:])
    # A pending reader is sent the link again; an unsubscribed one opts in anew.
    assert mailed == ["fresh@example.org", "sam@example.org", "waiting@example.org"]
    assert status_of(room, "sam@example.org") == PENDING
    assert status_of(room, "rana@example.org") == CONFIRMED
    assert status_of(room, "gone@example.org") is None
    assert status_of(room, "bot@example.org") is None
    assert services.store.subscriber_by_email("bot@example.org") is None


def test_the_answer_is_sent_before_the_sign_up_is_handled(room: Newsroom) -> None:
    """The store and the mail are off the request path: with the queue's thread held, the
    answer still comes, and nothing is recorded until the thread runs."""
    held: list[SignUpRequest] = []

    class Held:
        after_response = False

        def submit(self, request: SignUpRequest) -> None:
            held.append(request)

    client = TestClient(create_app(room.services, signups=Held()))
    answer = sign_up(client, "later@example.org", name="Later")
    assert answer.status_code == 200
    assert held == [SignUpRequest("daily", "later@example.org", "Later")]
    assert room.services.store.subscriber_by_email("later@example.org") is None


def test_without_a_valid_form_token_nothing_is_queued(
    room: Newsroom, client: TestClient, queue: ThreadQueue
) -> None:
    other = form_token(client.get("/").text, "/subscribe/arabic")
    for data in (
        {"email": "a@example.org"},
        {"email": "a@example.org", "form_token": "forged"},
        {"email": "a@example.org", "form_token": other},  # issued for another form
    ):
        answer = client.post("/subscribe/daily", data=data)
        assert answer.status_code == 403
        assert "open too long" in answer.text and 'name="form_token"' in answer.text
    queue.join()
    assert room.services.store.subscriber_by_email("a@example.org") is None
    assert confirmations(room) == []


def test_an_address_we_cannot_send_to_is_refused_with_the_form_again(
    room: Newsroom, client: TestClient, queue: ThreadQueue
) -> None:
    for typed in ("not-an-address", "a@b", "x@localhost", "a\r\nBcc: b@example.org"):
        answer = sign_up(client, typed, name="N")
        assert answer.status_code == 400, typed
        assert "Please enter an email address" in answer.text
        assert 'aria-invalid="true"' in answer.text
    queue.join()
    assert confirmations(room) == []


@pytest.mark.parametrize(
    ("typed", "list_slug", "told"),
    [
        ("é@ex.org", "daily", "part before the @ is in Latin letters"),
        ("علي@example.com", "arabic", "الجزء الذي قبل @"),
        ("علي@مثال.إختبار", "arabic", "الجزء الذي قبل @"),
    ],
)
def test_an_address_in_another_script_before_the_at_is_told_why_it_is_refused(
    room: Newsroom, client: TestClient, queue: ThreadQueue, typed: str, list_slug: str, told: str
) -> None:
    # Such an address is one (RFC 6531), and the form said "enter an email address such as
    # name@example.org" to the reader who had: they could not tell what to change.
    answer = sign_up(client, typed, list_slug, name="علي")
    assert answer.status_code == 400
    assert told in answer.text and "name@example.org" not in answer.text
    assert 'aria-invalid="true"' in answer.text and f'value="{typed}"' in answer.text
    queue.join()
    assert confirmations(room) == []


def test_a_field_longer_than_a_few_kilobytes_is_read_not_taken_for_an_expired_form(
    room: Newsroom, client: TestClient, queue: ThreadQueue
) -> None:
    # 2,100 Arabic letters are 4,200 bytes: past the form reader's default of 4 KB a field, the
    # whole form was dropped, and the page said it was open too long, again at every press.
    name = "ب" * 2100
    taken = sign_up(client, "long.name@example.org", "arabic", name=name)
    assert taken.status_code == 200, taken.text
    refused = sign_up(client, "a" * 5000 + "@example.org", name="N")
    assert refused.status_code == 400 and "Please enter an email address" in refused.text
    queue.join()
    reader = room.services.store.subscriber_by_email("long.name@example.org")
    assert reader is not None and reader.name == cut(name, 100)  # as any name: 100 at most
    assert [message["To"] for message in confirmations(room)] == ["long.name@example.org"]


def test_the_confirmation_goes_to_the_domain_typed_and_not_its_idna_2003_twin(
    room: Newsroom, client: TestClient, queue: ThreadQueue
) -> None:
    # "straße" is not "strasse": a mail for the one must never reach the other's owner.
    assert sign_up(client, "leser@straße.example").status_code == 200
    queue.join()
    [mail] = confirmations(room)
    assert mail["To"].addresses[0].addr_spec == "leser@xn--strae-oqa.example"
    assert status_of(room, "leser@strasse.example") is None


def test_the_confirmation_link_shows_a_button_and_only_its_post_confirms(
    room: Newsroom, client: TestClient, queue: ThreadQueue
) -> None:
    sign_up(client, "nour@example.org", name="Nour")
    queue.join()
    path = confirm_path(confirmations(room)[0])
    for _ in range(3):  # a link scanner, a preview pane, the reader
        page = client.get(path)
        assert page.status_code == 200 and page.text.count("<button") == 1
        assert client.head(path).status_code == 200
    assert status_of(room, "nour@example.org") == PENDING
    confirmed = client.post(path, data={"form_token": form_token(page.text, path)})
    assert confirmed.status_code == 200 and "You are subscribed" in confirmed.text
    assert room.is_member("daily", "Nour")
    again = client.post(path, data={"form_token": form_token(page.text, path)})
    assert again.status_code == 200  # a double click: still subscribed, nothing recorded twice
    assert history(room, "nour@example.org") == [
        (None, PENDING, "sign-up"),
        (PENDING, CONFIRMED, "sign-up"),
    ]
    # The button without its form token confirms nothing new, and shows the button again.
    assert client.post(path, data={}).status_code == 403


def nour_signed_up(
    room: Newsroom, client: TestClient, queue: ThreadQueue
) -> tuple[str, Subscriber]:
    """Nour signs up to the daily list: the path of her confirmation link, and her record."""
    sign_up(client, "nour@example.org")
    queue.join()
    nour = room.services.store.subscriber_by_email("nour@example.org")
    assert nour is not None
    return confirm_path(confirmations(room)[0]), nour


def test_tampered_expired_and_foreign_tokens_change_nothing(
    room: Newsroom, client: TestClient, queue: ThreadQueue
) -> None:
    services = room.services
    path, nour = nour_signed_up(room, client, queue)
    token = path.rsplit("/", 1)[1]
    signer, now = services.signer, room.clock.now()
    unsubscribe = signer.unsubscribe_token(nour.id, "daily")
    cases = {
        f"/confirm/{token[:-2]}": 400,
        f"/confirm/{token}A": 400,
        f"/confirm/{unsubscribe}": 400,  # made for another action
        f"/confirm/{signer.confirm_token(nour.id, 'gone-list', now)}": 410,  # no such list
        f"/confirm/{'x' * 400}": 400,
    }
    for bad, status in cases.items():
        assert client.get(bad).status_code == status, bad
        assert client.post(bad, data={"form_token": "x"}).status_code == status, bad
    room.clock.set(now + timedelta(days=3, minutes=1))  # web.confirm_days = 3
    page = client.get(path)
    assert page.status_code == 410 and "expired" in page.text
    assert client.post(path, data={"form_token": "x"}).status_code == 410
    assert status_of(room, "nour@example.org") == PENDING


def test_an_expired_link_is_explained_in_its_lists_language(
    room: Newsroom, client: TestClient, queue: ThreadQueue
) -> None:
    sign_up(client, "nour@example.org", list_slug="arabic")
    queue.join()
    path = confirm_path(confirmations(room)[0])
    room.clock.set(room.clock.now() + timedelta(days=3, minutes=1))  # web.confirm_days = 3
    page = client.get(path)
    assert page.status_code == 410
    assert 'lang="ar" dir="rtl"' in page.text
    assert "انتهت صلاحية هذا الرابط" in page.text and "3" in page.text
    assert client.post(path, data={"form_token": "x"}).status_code == 410
    assert status_of(room, "nour@example.org", "arabic") == PENDING


def test_an_unsubscribed_reader_cannot_be_confirmed_by_an_old_link(
    room: Newsroom, client: TestClient, queue: ThreadQueue
) -> None:
    sign_up(client, "nour@example.org")
    queue.join()
    path = confirm_path(confirmations(room)[0])
    nour = room.services.store.subscriber_by_email("nour@example.org")
    assert nour is not None
    room.services.store.unsubscribe(nour.id, "daily", room.clock.now(), "one-click")
    page = client.get(path)
    answer = client.post(path, data={"form_token": form_token(page.text, path)})
    assert answer.status_code == 409 and "cannot be confirmed" in answer.text
    assert status_of(room, "nour@example.org") == UNSUBSCRIBED


def test_a_link_from_before_an_unsubscribe_does_not_bring_the_reader_back(
    room: Newsroom, client: TestClient, queue: ThreadQueue
) -> None:
    # Nour confirms, then leaves. A stranger's form signs her up again (pending: a mail goes to
    # her). The first mail's link, still within web.confirm_days, was for a sign-up she undid:
    # pressed by whoever has that old mail, it must not re-subscribe her.
    sign_up(client, "nour@example.org")
    queue.join()
    old_path = confirm_path(confirmations(room)[0])
    old_page = client.get(old_path).text
    client.post(old_path, data={"form_token": form_token(old_page, old_path)})
    assert status_of(room, "nour@example.org") == CONFIRMED
    now = room.clock.now()
    room.clock.set(now + timedelta(hours=1))
    nour = room.services.store.subscriber_by_email("nour@example.org")
    assert nour is not None
    unsubscribe = f"/unsubscribe/{room.services.signer.unsubscribe_token(nour.id, 'daily')}"
    assert client.post(unsubscribe, content=b"List-Unsubscribe=One-Click").status_code == 200
    room.clock.set(now + timedelta(hours=2))
    assert sign_up(client, "nour@example.org").status_code == 200
    queue.join()
    assert status_of(room, "nour@example.org") == PENDING
    page = client.get(old_path)
    answer = client.post(old_path, data={"form_token": form_token(page.text, old_path)})
    assert answer.status_code == 409 and "cannot be confirmed" in answer.text
    assert status_of(room, "nour@example.org") == PENDING
    # Her own press of the new mail's button is what brings her back.
    new_path = confirm_path(confirmations(room)[-1])
    assert new_path != old_path
    page = client.get(new_path)
    answer = client.post(new_path, data={"form_token": form_token(page.text, new_path)})
    assert answer.status_code == 200 and status_of(room, "nour@example.org") == CONFIRMED


def test_a_readers_unsubscribe_is_not_undone_by_a_strangers_sign_up_and_an_import(
    room: Newsroom, client: TestClient, queue: ThreadQueue, tmp_path: Path
) -> None:
    # Sam came from the operator's file and left by one-click. A stranger's form makes her
    # pending again (a mail she ignores); then the operator adds someone to the file. The
    # import confirmed every pending member of the file, Sam among them: she got editions again.
    sam = room.subscriber("daily", "Sam")
    unsubscribe = f"/unsubscribe/{room.services.signer.unsubscribe_token(sam.id, 'daily')}"
    assert client.post(unsubscribe, content=b"List-Unsubscribe=One-Click").status_code == 200
    assert sign_up(client, "sam@example.org").status_code == 200
    queue.join()
    assert status_of(room, "sam@example.org") == PENDING
    members = tmp_path / "members.csv"
    members.write_text(members.read_text() + "new@example.org,New\n")
    build_editions(room, 1)
    assert status_of(room, "new@example.org") == CONFIRMED  # the file was read
    assert status_of(room, "sam@example.org") == PENDING
    active = {s.email for s in room.services.store.active_subscribers("daily")}
    assert "sam@example.org" not in active
    # Her own press of the mail's button is what brings her back.
    path = confirm_path(confirmations(room)[-1])
    page = client.get(path)
    answer = client.post(path, data={"form_token": form_token(page.text, path)})
    assert answer.status_code == 200 and status_of(room, "sam@example.org") == CONFIRMED


def test_only_confirmed_readers_get_the_next_edition(
    room: Newsroom, client: TestClient, queue: ThreadQueue
) -> None:
    sign_up(client, "pending@example.org")
    sign_up(client, "confirmed@example.org")
    queue.join()
    [_, mail] = confirmations(room)
    path = confirm_path(mail)
    assert mail["To"] == "confirmed@example.org"
    client.post(path, data={"form_token": form_token(client.get(path).text, path)})
    build_editions(room, 1)
    services = room.services
    edition = services.store.latest_edition("daily")
    assert edition is not None
    deliver_batch(services, edition.id, services.store.pending_deliveries(edition.id))
    recipients = {
        m["To"].addresses[0].addr_spec
        for m in sent(room)
        if "List-Id" in m and "daily" in str(m["List-Id"])
    }
    assert "confirmed@example.org" in recipients
    assert "pending@example.org" not in recipients


def test_an_address_over_its_day_is_told_to_wait_hours(room: Newsroom, queue: ThreadQueue) -> None:
    # Three an hour let a stranger's form send one mailbox 72 confirmations a day, and a page
    # asked to wait a day would have said "in 1440 minutes".
    client = app_client(room, queue, per_address="3/hour", per_address_daily="2/day")
    for _ in range(2):
        assert sign_up(client, "victim@example.org").status_code == 200
    third = sign_up(client, "victim@example.org")
    assert third.status_code == 429
    assert 23 * 3600 < int(third.headers["retry-after"]) <= 24 * 3600
    assert "Please try again in 24 hours." in third.text and "minutes" not in third.text
    assert sign_up(client, "other@example.org").status_code == 200
    arabic = sign_up(client, "victim@example.org", list_slug="arabic")  # any list: one mailbox
    assert arabic.status_code == 429 and "حاول مرة أخرى بعد 24 ساعة." in arabic.text
    queue.join()
    assert len([m for m in confirmations(room) if str(m["To"]) == "victim@example.org"]) == 2


def test_over_the_limits_a_429_page_with_retry_after(room: Newsroom, queue: ThreadQueue) -> None:
    client = app_client(room, queue, per_address="2/hour", per_client="4/hour")
    for _ in range(2):
        assert sign_up(client, "same@example.org").status_code == 200
    third = sign_up(client, "Same@Example.org")  # the same address, however it is written
    assert third.status_code == 429
    assert 1 <= int(third.headers["retry-after"]) <= 3600
    assert "Too many requests" in third.text and "/static/site.css" in third.text
    assert third.headers["content-security-policy"].startswith("default-src 'none'")
    assert sign_up(client, "other@example.org").status_code == 200  # the 4th from this client
    fifth = sign_up(client, "another@example.org", list_slug="arabic")
    assert fifth.status_code == 429 and "طلبات كثيرة" in fifth.text  # in the list's words
    queue.join()
    # same@ twice (a pending reader is sent the link again), other@ once; nothing more.
    assert sorted(str(m["To"]) for m in confirmations(room)) == [
        "other@example.org",
        "same@example.org",
        "same@example.org",
    ]
    assert status_of(room, "another@example.org", "arabic") is None


def test_one_mailbox_is_one_count_however_its_address_is_written_and_for_every_list(
    room: Newsroom, queue: ThreadQueue
) -> None:
    # Gmail ignores dots and every big provider a "+tag": a stranger who writes the victim's
    # address many ways, on several lists, still makes their mailbox receive per_address mails.
    client = app_client(room, queue, per_address="2/hour")
    assert sign_up(client, "victim@gmail.com").status_code == 200
    assert sign_up(client, "vic.tim+news@gmail.com", list_slug="arabic").status_code == 200
    for variant in ("V.i.c.t.i.m+2@googlemail.com", "victim+3@gmail.com", "v.ictim@gmail.com"):
        assert sign_up(client, variant).status_code == 429, variant
    assert sign_up(client, "ann+a@example.org").status_code == 200
    assert sign_up(client, "ann+b@example.org").status_code == 200
    assert sign_up(client, "Ann@Example.org", list_slug="arabic").status_code == 429
    # Dots count only where the provider ignores them: a.nn is someone else at example.org.
    assert sign_up(client, "a.nn@example.org").status_code == 200
    queue.join()
    mailed = sorted(str(message["To"]) for message in confirmations(room))
    assert mailed == [
        "a.nn@example.org",
        "ann+a@example.org",
        "ann+b@example.org",
        "vic.tim+news@gmail.com",  # the mail goes to the address as it was written
        "victim@gmail.com",
    ]


@pytest.mark.parametrize(
    "spellings",
    [
        ("ann@icloud.com", "ann@me.com", "ann@mac.com"),
        ("ann@proton.me", "ann@protonmail.com", "ann@pm.me", "ann@protonmail.ch"),
        ("ann@yandex.ru", "ann@ya.ru", "ann@yandex.com", "ann@yandex.kz"),
    ],
)
def test_a_mailbox_that_several_domains_reach_is_one_count(
    room: Newsroom, queue: ThreadQueue, spellings: tuple[str, ...]
) -> None:
    # iCloud, Proton and Yandex deliver one account's mail at each of their domains: a
    # stranger who wrote the victim's name at each made that mailbox receive per_address
    # mails per domain, three or four times the bound.
    client = app_client(room, queue, per_address="2/hour")
    first, second, *others = spellings
    assert sign_up(client, first).status_code == 200
    assert sign_up(client, second, list_slug="arabic").status_code == 200
    for spelling in others:
        assert sign_up(client, spelling).status_code == 429, spelling
    assert sign_up(client, "ann@example.org").status_code == 200  # someone else


def test_x_forwarded_for_counts_only_from_a_trusted_proxy(
    room: Newsroom, queue: ThreadQueue
) -> None:
    client = app_client(room, queue, per_client="2/hour")
    # Not a trusted proxy (none is by default): a forged header changes nothing.
    for number in range(2):
        forged = {"x-forwarded-for": f"198.51.100.{number}"}
        token = form_token(client.get("/").text, "/subscribe/daily")
        answer = client.post(
            "/subscribe/daily",
            data={"form_token": token, "email": f"r{number}@example.org"},
            headers=forged,
        )
        assert answer.status_code == 200
    token = form_token(client.get("/").text, "/subscribe/daily")
    answer = client.post(
        "/subscribe/daily",
        data={"form_token": token, "email": "r9@example.org"},
        headers={"x-forwarded-for": "198.51.100.99"},
    )
    assert answer.status_code == 429


def test_an_ipv6_client_cannot_step_round_its_limit_by_changing_address(
    room: Newsroom, queue: ThreadQueue
) -> None:
    limits = SignUpLimits("2/hour", "100/hour", MemoryStorage())
    app = create_app(room.services, signups=queue, limits=limits)
    answers = []
    for number in range(4):  # four addresses of one /64, as a privacy-extension host has
        client = TestClient(app, client=(f"2001:db8:7:7::{number + 1:x}", 40000 + number))
        answers.append(sign_up(client, f"v6-{number}@example.org").status_code)
    assert answers == [200, 200, 429, 429]
    other = TestClient(app, client=("2001:db8:7:8::1", 40100))  # the next /64: someone else
    assert sign_up(other, "v6-next@example.org").status_code == 200


def test_the_embeddable_form_may_be_framed_and_still_needs_its_token(
    room: Newsroom, client: TestClient, queue: ThreadQueue
) -> None:
    page = client.get("/embed/daily")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors *" in policy and "form-action 'self'" in policy
    assert "x-frame-options" not in page.headers
    assert 'class="site-header"' not in page.text  # the form alone
    token = form_token(page.text, "/embed/daily")
    answer = client.post("/embed/daily", data={"form_token": token, "email": "e@example.org"})
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    assert "frame-ancestors *" in answer.headers["content-security-policy"]
    refused = client.post("/embed/daily", data={"email": "f@example.org"})
    assert (
        refused.status_code == 403
        and "frame-ancestors *" in refused.headers["content-security-policy"]
    )
    queue.join()
    assert [str(m["To"]) for m in confirmations(room)] == ["e@example.org"]
    # Every other page still refuses every frame.
    for path in ("/", "/subscribe/daily", "/editions/daily"):
        other = client.get(path)
        assert other.headers["x-frame-options"] == "DENY", path
        assert "frame-ancestors 'none'" in other.headers["content-security-policy"], path
    assert client.get("/embed/no-such-list").status_code == 404


def test_the_embedded_forms_page_of_a_list_no_longer_sent_is_shown_in_the_frame(
    room: Newsroom, client: TestClient
) -> None:
    """A list taken out of the config, the newsroom's page that frames its form got a 404 that
    forbade every frame: its readers saw the browser's refusal, not a page saying there is
    nothing there. Pages outside /embed/ still refuse every frame, their 404s too."""
    for path in ("/embed/no-such-list", "/embed/daily/more"):
        missing = client.get(path)
        assert missing.status_code == 404 and "No such page" in missing.text
        assert "frame-ancestors *" in missing.headers["content-security-policy"], path
        assert "x-frame-options" not in missing.headers, path
    other = client.get("/subscribe/no-such-list")
    assert other.status_code == 404 and other.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in other.headers["content-security-policy"]


def test_a_name_cannot_add_a_header_to_the_confirmation_mail(room: Newsroom) -> None:
    transport = MemoryTransport()
    for name in (
        "Eve\r\nBcc: victim@example.org",
        "=?utf-8?b?DQpCY2M6IHZAZXhhbXBsZS5vcmc=?=",
        "ن" * 400,
    ):
        handle_sign_up(
            room.services,
            transport,
            SignUpRequest("arabic", f"x{len(transport.sent)}@example.org", name),
        )
    assert len(transport.sent) == 3
    for outgoing in transport.sent:
        head = outgoing.data.partition(b"\r\n\r\n")[0]
        assert b"\nBcc" not in head and b"\r\nBcc" not in head
        message = message_from_bytes(outgoing.data, _class=EmailMessage, policy=default_policy)  # type: ignore[arg-type]
        assert "Bcc" not in message and len(message.get_all("To") or []) == 1
        assert "\n" not in str(message["To"]) and "\r" not in str(message["To"])
        assert str(message["Subject"]) == "أكّد اشتراكك في النشرة اليومية"
        html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
        assert 'dir="rtl"' in html and "تأكيد اشتراكي" in html


def test_words_typed_as_a_name_are_not_carried_to_the_inbox_by_the_confirmation(
    room: Newsroom, client: TestClient, queue: ThreadQueue
) -> None:
    # Anyone may type anyone's address: the name field would put the stranger's words in the
    # To of a mail our domain signs, into the victim's inbox.
    lure = "Your account is locked, call 555-0100 or visit evil.example"
    assert sign_up(client, "victim@example.org", name=lure).status_code == 200
    queue.join()
    [mail] = confirmations(room)
    assert mail["To"] == "victim@example.org"
    raw = room.services.transport.sent[-1].data  # type: ignore[attr-defined]
    assert b"evil.example" not in raw and b"555-0100" not in raw
    assert "evil.example" not in mail.get_body(("html",)).get_content()  # type: ignore[union-attr]


def test_a_broker_that_does_not_take_the_sign_up_is_a_503(room: Newsroom) -> None:
    from digest.web.signups import QueueUnavailable

    class Down:
        after_response = False

        def submit(self, request: SignUpRequest) -> None:
            raise QueueUnavailable("connection refused")

    client = TestClient(create_app(room.services, signups=Down()))
    answer = sign_up(client, "nour@example.org")
    assert answer.status_code == 503 and answer.headers["retry-after"] == "120"
    assert "Please try again in a few minutes" in answer.text


def test_one_failing_sign_up_does_not_stop_the_next(room: Newsroom) -> None:
    services, failed = room.services, []
    real = services.store.sign_up

    def failing_once(*args: object, **kwargs: object) -> object:
        if not failed:
            failed.append(args)
            raise RuntimeError("the store went away")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    services.store.sign_up = failing_once  # type: ignore[method-assign]
    queue = ThreadQueue(services, lambda: services.transport)
    queue.submit(SignUpRequest("daily", "first@example.org"))
    queue.submit(SignUpRequest("daily", "second@example.org"))
    queue.join()
    assert failed and [str(m["To"]) for m in confirmations(room)] == ["second@example.org"]


def test_in_the_embedded_default_the_confirmation_goes_to_the_outbox_folder(
    room: Newsroom,
) -> None:
    """No [smtp]: the app's own queue writes the mail where every other mail goes."""
    app = create_app(room.services)  # its default queue, with the configured transport
    client = TestClient(app)
    assert sign_up(client, "outbox@example.org").status_code == 200
    queue = app.state.web.signups
    assert isinstance(queue, ThreadQueue)
    queue.join()
    outbox = room.services.settings.service.outbox
    [written] = [p for p in outbox.glob("*.eml") if b"outbox@example.org" in p.read_bytes()]
    message = message_from_bytes(written.read_bytes(), _class=EmailMessage, policy=default_policy)  # type: ignore[arg-type]
    assert str(message["Subject"]) == "Confirm your subscription to Daily Brief"
    assert written.stat().st_mode & 0o077 == 0  # an address and a link: its owner's only


def test_the_thread_handles_a_sign_up_at_a_random_moment_after_its_answer(
    room: Newsroom,
) -> None:
    # Handled at once, a new address's rows and mail slowed the requests its client sent next
    # (5 ms at the median of three, against a subscribed address's look-up): timing told who
    # was subscribed after all. The thread now waits a random moment first.
    services = room.services
    queue = ThreadQueue(services, lambda: services.transport, delay=lambda: 0.5)
    started = time.monotonic()
    queue.submit(SignUpRequest("daily", "later@example.org"))
    time.sleep(0.2)
    assert confirmations(room) == []
    queue.join()
    assert time.monotonic() - started >= 0.5 and len(confirmations(room)) == 1
    # A stopping process does not wait the moments out: what was taken is mailed at once.
    queue = ThreadQueue(services, lambda: services.transport, delay=lambda: 60.0)
    queue.submit(SignUpRequest("daily", "stopping@example.org"))
    started = time.monotonic()
    queue.close()
    assert time.monotonic() - started < 5 and len(confirmations(room)) == 2
    delays = [random_delay() for _ in range(200)]
    assert all(0 <= delay <= JITTER_SECONDS for delay in delays) and len(set(delays)) > 100


def test_the_thread_queue_gets_the_sign_up_only_once_the_answer_is_sent(room: Newsroom) -> None:
    """Work on this process's thread never runs beside the answer: its last byte is sent
    before the sign-up is handed over, whatever the address (no timing to tell them apart)."""
    import anyio

    events: list[str] = []

    class Deferred:
        after_response = True

        def submit(self, request: SignUpRequest) -> None:
            events.append(f"submitted {request.email}")

    app = create_app(room.services, signups=Deferred())
    token = form_token(TestClient(app).get("/").text, "/subscribe/daily")
    body = f"form_token={token}&email=nour%40example.org".encode()

    async def call() -> None:
        received = False

        async def receive() -> dict[str, object]:
            nonlocal received
            if received:
                return {"type": "http.disconnect"}
            received = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, object]) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body"):
                events.append("answer sent")

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/subscribe/daily",
            "raw_path": b"/subscribe/daily",
            "root_path": "",
            "query_string": b"",
            "headers": [
                (b"host", b"testserver"),
                (b"content-type", b"application/x-www-form-urlencoded"),
                (b"content-length", str(len(body)).encode()),
            ],
            "client": ("192.0.2.1", 5000),
            "server": ("testserver", 80),
        }
        await app(scope, receive, send)  # type: ignore[arg-type]

    anyio.run(call)
    assert events == ["answer sent", "submitted nour@example.org"]


@pytest.mark.parametrize("language", ["en", "ar", "he", "fa"])
def test_every_language_has_whole_sign_up_words(language: str) -> None:
    """Each sentence takes exactly its variables, and the right-to-left ones are written so."""
    import string

    from digest.web.words import words_for
    from digest.wording import wording_for

    page, mail = words_for(language), wording_for(language)
    assert page.language == language and mail.confirm_subject != "" and page.signup_button != ""
    expected = {
        page.check_inbox_body: {"list", "days"},
        page.confirm_explain: {"list"},
        page.confirmed_body: {"list"},
        page.link_expired_body: {"days"},
        page.too_many_body: {"minutes"},
        page.too_many_hours_body: {"hours"},
        mail.confirm_subject: {"list"},
        mail.confirm_intro: {"list"},
        mail.confirm_expires: {"days"},
        mail.confirm_ignore: set(),
        page.invalid_email: set(),
        page.address_not_ascii: set(),
    }
    for sentence, variables in expected.items():
        found = {name for _, name, _, _ in string.Formatter().parse(sentence) if name}
        assert found == variables, (language, sentence)
    if language != "en":
        assert page.email_label != words_for("en").email_label
        assert mail.confirm_link != wording_for("en").confirm_link
    assert page.direction == ("ltr" if language == "en" else "rtl")


def test_a_renamed_list_keeps_its_sign_up_addresses(
    room: Newsroom, client: TestClient, queue: ThreadQueue
) -> None:
    for kind in ("subscribe", "embed"):
        moved = client.get(f"/{kind}/morning", follow_redirects=False)  # the daily's old slug
        assert moved.status_code == 301 and moved.headers["location"] == f"/{kind}/daily"
        # A link checker asks with HEAD: told the same, so the newsroom's page is mended.
        checked = client.head(f"/{kind}/morning", follow_redirects=False)
        assert checked.status_code == 301 and checked.headers["location"] == f"/{kind}/daily"
    # A form loaded before the rename still signs up, to the list under its slug now.
    token = client.app.state.web.forms.issue("/subscribe/morning")  # type: ignore[attr-defined]
    answer = client.post("/subscribe/morning", data={"form_token": token, "email": "m@example.org"})
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    queue.join()
    assert status_of(room, "m@example.org", "daily") == PENDING


def test_a_confirmation_link_made_before_a_rename_confirms_on_the_list_now(
    room: Newsroom, client: TestClient, queue: ThreadQueue
) -> None:
    sign_up(client, "renamed@example.org")
    queue.join()
    reader = room.services.store.subscriber_by_email("renamed@example.org")
    assert reader is not None
    # The mail went out while the list was "morning" (its previous_slugs).
    old = room.services.signer.confirm_token(reader.id, "morning", room.clock.now())
    path = f"/confirm/{old}"
    page = client.get(path)
    assert page.status_code == 200 and "Daily Brief" in page.text
    answer = client.post(path, data={"form_token": form_token(page.text, path)})
    assert answer.status_code == 200 and status_of(room, "renamed@example.org") == CONFIRMED


def test_a_sign_up_still_held_under_the_former_slug_is_confirmed_by_its_link(
    room: Newsroom, client: TestClient
) -> None:
    """The pages take a rename within a second, the next cycle moves the list's members: in
    between, the reader who signed up before the rename pressed the button of their mail and
    was told the sign-up could not be confirmed, and stayed pending."""
    services, email = room.services, "before-the-rename@example.org"
    # Signed up while the list was "morning"; no cycle has carried the rename over yet.
    signed = services.store.sign_up(
        email, None, "morning", services.address_key(email), room.clock.now()
    )
    assert signed.subscriber_id is not None
    old = services.signer.confirm_token(signed.subscriber_id, "morning", room.clock.now())
    path = f"/confirm/{old}"
    page = client.get(path)
    answer = client.post(path, data={"form_token": form_token(page.text, path)})
    assert answer.status_code == 200 and "Daily Brief" in answer.text
    assert status_of(room, email, "morning") == CONFIRMED


def test_a_reader_confirmed_under_the_former_slug_gets_no_mail_from_the_form(
    room: Newsroom, client: TestClient, queue: ThreadQueue
) -> None:
    """Between a rename and the cycle that moves the list's members, anyone's form made a
    confirmed reader, still held under the former slug, a second, pending membership and sent
    them a confirmation mail, which a confirmed reader never gets from the form."""
    services, email = room.services, "confirmed-before@example.org"
    signed = services.store.sign_up(
        email, None, "morning", services.address_key(email), room.clock.now()
    )
    assert signed.subscriber_id is not None
    services.store.confirm(signed.subscriber_id, "morning", room.clock.now())
    answer = sign_up(client, email)
    queue.join()
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    assert confirmations(room) == []
    assert services.store.memberships_of(signed.subscriber_id) == {"morning": (CONFIRMED, None)}


@pytest.mark.parametrize(
    "origin",
    ["https://evil.example", "null", "http://news.example.org", "https://news.example.org:8443"],
)
def test_a_sign_up_posted_from_another_site_is_refused_like_an_expired_form(
    room: Newsroom, client: TestClient, queue: ThreadQueue, origin: str
) -> None:
    """A token is any visitor's for the asking: a site that fetched one could have its own
    visitors' browsers post sign-ups, each from another address, past every per-client limit."""
    action = "/subscribe/daily"
    token = form_token(client.get("/").text, action)
    data = {"form_token": token, "email": "victim@example.org"}
    answer = client.post(action, data=data, headers={"Origin": origin})
    assert answer.status_code == 403 and 'name="form_token"' in answer.text
    queue.join()
    assert room.services.store.subscriber_by_email("victim@example.org") is None
    assert confirmations(room) == []


@pytest.mark.parametrize(
    "origin", [None, BASE, "HTTPS://News.Example.ORG", "https://news.example.org:443"]
)
def test_a_sign_up_from_our_own_origin_or_a_browser_that_names_none_is_taken(
    room: Newsroom, client: TestClient, queue: ThreadQueue, origin: str | None
) -> None:
    action = "/subscribe/daily"
    token = form_token(client.get("/").text, action)
    headers = {"Origin": origin} if origin is not None else {}
    answer = client.post(
        action, data={"form_token": token, "email": "nour@example.org"}, headers=headers
    )
    assert answer.status_code == 200
    queue.join()
    assert status_of(room, "nour@example.org") == PENDING


def test_a_confirmation_posted_from_another_site_confirms_nothing(
    room: Newsroom, client: TestClient, queue: ThreadQueue
) -> None:
    sign_up(client, "nour@example.org")
    queue.join()
    path = confirm_path(confirmations(room)[0])
    token = form_token(client.get(path).text, path)
    refused = client.post(path, data={"form_token": token}, headers={"Origin": "https://x.test"})
    assert refused.status_code == 403 and status_of(room, "nour@example.org") == PENDING
    taken = client.post(path, data={"form_token": token}, headers={"Origin": BASE})
    assert taken.status_code == 200 and status_of(room, "nour@example.org") == CONFIRMED


def test_pressing_again_a_sign_up_form_open_too_long_signs_up(
    room: Newsroom, queue: ThreadQueue
) -> None:
    """A reader leaves the sign-up page open overnight, types their address and presses the
    button: the page says it was open too long and to press the button again. It came back
    with the address field empty, so pressing again, as it said, was refused for having no
    address. Their own form now comes back as they filled it in; another site's does not."""
    app = create_app(
        room.services,
        signups=queue,
        limits=SignUpLimits("100/hour", "100/hour", MemoryStorage()),
    )
    fields = {"email": "late.reader@example.org", "name": "Late Reader"}
    with serving(app, "127.0.0.1", 0) as address, httpx.Client(base_url=address) as browser:
        page = browser.get("/subscribe/daily").text
        room.clock.advance(timedelta(hours=13))
        token = form_token(page, "/subscribe/daily")
        late = browser.post("/subscribe/daily", data={"form_token": token, **fields})
        assert late.status_code == 403 and "open too long" in late.text
        assert 'value="late.reader@example.org"' in late.text
        assert 'value="Late Reader"' in late.text
        again = browser.post(
            "/subscribe/daily",
            data={"form_token": form_token(late.text, "/subscribe/daily"), **fields},
        )
        assert again.status_code == 200 and "Check your inbox" in again.text
        # Another site's post does not have its address drawn into our page.
        foreign = browser.post(
            "/subscribe/daily",
            data={"form_token": token, "email": "victim@example.org"},
            headers={"Origin": "https://evil.example"},
        )
        assert foreign.status_code == 403 and "victim@example.org" not in foreign.text
    queue.join()
    assert status_of(room, "late.reader@example.org") == PENDING
    assert len(confirmations(room)) == 1


def test_the_embedded_forms_503_is_shown_in_the_newsrooms_frame(room: Newsroom) -> None:
    """The broker down, the embeddable form's post answered 503 with X-Frame-Options: DENY and
    frame-ancestors 'none': in the newsroom's frame the reader saw the browser's refusal, not
    the page asking to try again in a few minutes. Its other answers may be framed, and so may
    this one now; the pages outside /embed/ still may not."""
    from digest.web.signups import QueueUnavailable

    class Down:
        after_response = False

        def submit(self, request: SignUpRequest) -> None:
            raise QueueUnavailable("connection refused")

    app = create_app(
        room.services, signups=Down(), limits=SignUpLimits("9/hour", "9/hour", MemoryStorage())
    )
    with serving(app, "127.0.0.1", 0) as address, httpx.Client(base_url=address) as browser:
        answers = {}
        for kind in ("embed", "subscribe"):
            token = form_token(browser.get(f"/{kind}/daily").text, f"/{kind}/daily")
            answers[kind] = browser.post(
                f"/{kind}/daily", data={"form_token": token, "email": "nour@example.org"}
            )
    framed, page = answers["embed"], answers["subscribe"]
    assert framed.status_code == 503 and "Please try again in a few minutes" in framed.text
    assert "frame-ancestors *" in framed.headers["content-security-policy"]
    assert "x-frame-options" not in framed.headers
    assert page.status_code == 503 and page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_a_sign_up_met_by_the_database_down_is_handled_once_it_is_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The reader was told to check their inbox; the thread met PostgreSQL restarting, logged a
    # traceback and dropped the sign-up: no mail ever came.
    with (
        postgres_cluster() as database,
        newsroom(tmp_path, editions=0, database_url=fresh_database(database.url)) as room,
    ):
        queue = ThreadQueue(
            room.services, lambda: room.services.transport, retry_delay=lambda attempt: 0.2
        )
        database.stop()
        queue.submit(SignUpRequest("daily", "new@example.org"))
        wait_for(lambda: "waits for the database" in caplog.text, "a sign-up waiting", 30)
        database.start()
        queue.join()
        assert status_of(room, "new@example.org") == PENDING
        assert [mail["To"] for mail in confirmations(room)] == ["new@example.org"]
    assert "Traceback" not in caplog.text
    said = " ".join(caplog.text.split())
    assert "list 'daily': a sign-up waits for the database" in said


def test_the_pages_count_the_days_a_link_works_in_the_lists_digits(tmp_path: Path) -> None:
    # "Check your inbox" and "link expired" say how long a link works, as the mail says it.
    from digest.web.signup import _days
    from tests.test_render import LIST_SLUG, make_settings

    persian = make_settings(tmp_path, language="fa").list(LIST_SLUG)
    gregorian = make_settings(tmp_path, language="fa", calendar="gregorian").list(LIST_SLUG)
    assert _days(persian, 3) == "۳ روز" and _days(persian, 1.5) == "۱٫۵ روز"
    assert _days(gregorian, 3) == "3 روز" and _days(None, 3) == "3 days"
    # In the form the count takes in the list's language: not "1 days", nor Arabic's "2 أيام".
    arabic = make_settings(tmp_path, language="ar").list(LIST_SLUG)
    assert [_days(arabic, days) for days in (1, 2, 3, 11)] == [
        "يوم واحد", "يومين", "3 أيام", "11 يومًا"
    ]  # fmt: skip
    assert _days(None, 1) == "1 day" and _days(None, 1.0) == "1 day"


def test_a_sign_up_waits_for_the_database_some_four_minutes_in_all() -> None:
    # A restart or a failover takes minutes: the waits double from 2 s to a minute at most,
    # and the last try comes about four minutes after the first.
    waits = [retry_wait(attempt) for attempt in range(1, RETRIES + 1)]
    assert waits == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]
    assert 210 <= sum(waits) <= 270


def test_a_queue_that_never_had_a_sign_up_closes_at_once(room: Newsroom) -> None:
    # The app a config edit replaced before anyone signed up: its queue has no thread.
    unused = ThreadQueue(room.services, lambda: room.services.transport)
    unused.close()
    unused.close()


def test_a_damaged_link_and_one_of_a_list_no_longer_sent_say_what_to_do(
    room: Newsroom, client: TestClient, queue: ThreadQueue
) -> None:
    services = room.services
    path, nour = nour_signed_up(room, client, queue)
    token = path.rsplit("/", 1)[1]
    gone = f"/confirm/{services.signer.confirm_token(nour.id, 'gone-list', room.clock.now())}"
    for path, status, title, body in (
        (
            f"/confirm/{token[:-2]}",
            400,
            "This link is damaged",
            "The confirmation link could not be read: part of it may have been lost when it "
            "was copied. Open it again from the mail itself, or sign up again.",
        ),
        (
            gone,
            410,
            "This newsletter is no longer published",
            "The list this link was for is not sent any more. The front page shows the "
            "newsletters there are.",
        ),
    ):
        page = client.get(path)
        said = " ".join(page.text.split())
        assert page.status_code == status and f"<h1>{title}</h1>" in said and body in said
    # Expired as well: said in English, the list it named being gone.
    room.clock.set(room.clock.now() + timedelta(days=3, minutes=1))  # web.confirm_days = 3
    page = client.get(gone)
    assert page.status_code == 410 and f"<h1>{ENGLISH.link_expired_title}</h1>" in page.text


def test_a_confirmation_refused_is_said_in_its_lists_language(
    room: Newsroom, client: TestClient, queue: ThreadQueue
) -> None:
    sign_up(client, "nour@example.org", list_slug="arabic")
    queue.join()
    path = confirm_path(confirmations(room)[0])
    arabic = words_for("ar")
    # The button pressed on a page open too long: the page again, of the same list.
    again = client.post(path, data={})
    assert again.status_code == 403 and "النشرة" in again.text and 'lang="ar"' in again.text
    nour = room.services.store.subscriber_by_email("nour@example.org")
    assert nour is not None
    room.services.store.unsubscribe(nour.id, "arabic", room.clock.now(), "one-click")
    page = client.get(path)
    answer = client.post(path, data={"form_token": form_token(page.text, path)})
    said = " ".join(answer.text.split())
    assert answer.status_code == 409 and f"<h1>{arabic.not_confirmed_title}</h1>" in said
    assert arabic.not_confirmed_body in said and 'lang="ar" dir="rtl"' in said
